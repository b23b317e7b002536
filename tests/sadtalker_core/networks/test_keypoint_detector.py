"""KPDetector: official keys, both official files load, keypoints are expected coordinates."""
from __future__ import annotations

import json

import pytest
import torch
from paths import MANIFESTS

from sadtalker_core.config import KPDetectorConfig
from sadtalker_core.networks.keypoint_detector import KPDetector, load_kp_detector

BUNDLE = "SadTalker_V0.0.2_256.safetensors"
LEGACY = "facevid2vid_00189-model.pth.tar"


@pytest.mark.parametrize("file_name, prefix", [(BUNDLE, "kp_extractor."), (LEGACY, "kp_detector.")])
def test_state_dict_keys_and_shapes_are_the_official_ones(file_name, prefix):
    manifest = json.loads((MANIFESTS / f"{file_name}.json").read_text())["tensors"]
    official = {k.removeprefix(prefix): v["shape"] for k, v in manifest.items() if k.startswith(prefix)}
    ours = {k: list(v.shape) for k, v in KPDetector().state_dict().items()}
    assert ours == official and len(ours) == 75


def test_keypoints_are_inside_the_normalised_cube_and_per_image(weights_dir):
    detector = load_kp_detector(weights_dir / BUNDLE)
    assert not detector.training and not any(p.requires_grad for p in detector.parameters())
    images = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        kp = detector(images)
        first_alone = detector(images[:1])
    assert kp.shape == (2, 15, 3)
    assert kp.abs().max() <= 1
    torch.testing.assert_close(kp[:1], first_alone, rtol=0, atol=1e-6)


def test_jacobians_are_refused():
    with pytest.raises(ValueError, match="jacobian"):
        KPDetector(KPDetectorConfig(estimate_jacobian=True))
