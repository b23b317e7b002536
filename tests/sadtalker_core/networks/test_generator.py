"""OcclusionAwareSPADEGenerator with the official (fake) weights: official keys, and a source
encoded once renders exactly what a fresh forward renders, for any driving batch.

Runs at 128x128 (the network is fully convolutional) to keep the CPU time down."""
from __future__ import annotations

import json

import pytest
import torch
from paths import MANIFESTS

from conformance import load_golden
from sadtalker_core.networks.generator import OcclusionAwareSPADEGenerator, load_generator

BUNDLE = "SadTalker_V0.0.2_256.safetensors"
SIZE = 128


def test_state_dict_keys_and_shapes_are_the_official_ones():
    manifest = json.loads((MANIFESTS / f"{BUNDLE}.json").read_text())["tensors"]
    official = {k.removeprefix("generator."): v["shape"] for k, v in manifest.items() if k.startswith("generator.")}
    ours = {k: list(v.shape) for k, v in OcclusionAwareSPADEGenerator().state_dict().items()}
    assert ours == official and len(ours) == 386


@pytest.fixture(scope="module")
def renders(weights_dir, goldens_dir):
    """One source, two driving poses (the generator golden's inputs, source downscaled)."""
    golden = load_golden(goldens_dir / "generator.safetensors")
    generator = load_generator(weights_dir / BUNDLE)
    source = torch.nn.functional.interpolate(golden["source_image"], size=(SIZE, SIZE), mode="area")
    kp_source, kp_driving = golden["kp_source"][:1], golden["kp_driving"]
    with torch.inference_mode():
        encoding = generator.encode_source(source)
        first = generator.animate(encoding, kp_driving[:1], kp_source)
        fresh_first = generator(source, kp_driving[:1], kp_source)
        batch = generator.animate(encoding, kp_driving, kp_source)
    return first, fresh_first, batch


def test_a_cached_source_encoding_renders_exactly_like_forward(renders):
    first, fresh_first, _ = renders
    assert torch.equal(first.prediction, fresh_first.prediction)
    assert torch.equal(first.mask, fresh_first.mask)
    assert torch.equal(first.occlusion_map, fresh_first.occlusion_map)


def test_a_batch_one_encoding_serves_a_whole_driving_batch(renders):
    first, _, batch = renders
    # batched convolutions may round differently from single ones (seen: 1.1e-5 on AMD Zen)
    torch.testing.assert_close(batch.prediction[:1], first.prediction, rtol=0, atol=1e-4)
    assert (batch.prediction[1] - batch.prediction[0]).abs().max() > 1e-3  # each sample has its own pose


def test_outputs_are_an_image_a_motion_softmax_and_an_occlusion_map(renders):
    _, _, batch = renders
    assert batch.prediction.shape == (2, 3, SIZE, SIZE)
    assert 0 <= batch.prediction.min() and batch.prediction.max() <= 1
    assert batch.mask.shape == (2, 16, 16, SIZE // 4, SIZE // 4)
    torch.testing.assert_close(batch.mask.sum(dim=1), torch.ones(2, 16, SIZE // 4, SIZE // 4))
    assert batch.occlusion_map.shape == (2, 1, SIZE // 4, SIZE // 4)
    assert 0 < batch.occlusion_map.min() and batch.occlusion_map.max() < 1
