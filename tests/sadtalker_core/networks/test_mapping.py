"""MappingNet: both official variants load, a 27-frame window maps to one pose per window."""
from __future__ import annotations

import json

import pytest
import torch
from paths import MANIFESTS

from sadtalker_core.checkpoints import CheckpointError
from sadtalker_core.config import FACERENDER, FACERENDER_STILL
from sadtalker_core.networks.mapping import MappingNet, load_mapping

VARIANTS = [("mapping_00229-model.pth.tar", FACERENDER), ("mapping_00109-model.pth.tar", FACERENDER_STILL)]


@pytest.mark.parametrize("file_name, config", VARIANTS)
def test_state_dict_keys_and_shapes_are_the_official_ones(file_name, config):
    manifest = json.loads((MANIFESTS / f"{file_name}.json").read_text())["tensors"]
    official = {k.removeprefix("mapping."): v["shape"] for k, v in manifest.items()}
    ours = {k: list(v.shape) for k, v in MappingNet(config.mapping).state_dict().items()}
    assert ours == official
    assert ours["first.0.weight"] == [1024, config.mapping.coeff_nc, 7]


@pytest.mark.parametrize("file_name, config", VARIANTS)
def test_each_window_maps_to_its_own_pose(weights_dir, file_name, config):
    mapping = load_mapping(weights_dir / file_name, config=config.mapping)
    windows = torch.randn(3, config.mapping.coeff_nc, 27, generator=torch.Generator().manual_seed(0)) * 0.3
    with torch.inference_mode():
        pose = mapping(windows)
        middle = mapping(windows[1:2])
    assert pose.yaw.shape == pose.pitch.shape == pose.roll.shape == (3, 66)
    assert pose.t.shape == (3, 3) and pose.exp.shape == (3, 45)
    torch.testing.assert_close(pose.exp[1:2], middle.exp, rtol=0, atol=1e-6)


def test_a_mapping_file_of_the_other_variant_is_rejected(weights_dir):
    with pytest.raises(CheckpointError, match="shape"):
        load_mapping(weights_dir / "mapping_00109-model.pth.tar", config=FACERENDER.mapping)
