"""ExpNet: the official ``audio2exp`` weights load unchanged and each frame is mapped on its own."""
from __future__ import annotations

import json

import pytest
import torch
from paths import MANIFESTS

from sadtalker_core.checkpoints import read_section
from sadtalker_core.networks.expnet import ExpNet, load_expnet

BUNDLE = "SadTalker_V0.0.2_256.safetensors"


@pytest.fixture(scope="module")
def expnet(weights_dir) -> ExpNet:
    return load_expnet(weights_dir / BUNDLE)


def test_parameter_names_and_shapes_are_the_official_audio2exp_keys():
    manifest = json.loads((MANIFESTS / f"{BUNDLE}.json").read_text())["tensors"]
    official = {k.removeprefix("audio2exp."): v["shape"] for k, v in manifest.items() if k.startswith("audio2exp.")}
    ours = {k: list(v.shape) for k, v in ExpNet().state_dict().items()}
    assert ours == official and len(ours) == 93


@pytest.mark.parametrize("name", [BUNDLE, "auido2exp_00300-model.pth"])
def test_weights_load_unchanged_from_the_bundle_and_the_legacy_file(weights_dir, name):
    net = load_expnet(weights_dir / name)
    state = read_section(weights_dir / name, "audio2exp")
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert not net.training and not any(p.requires_grad for p in net.parameters())


def _inputs(batch: int, frames: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mels = torch.rand(batch, frames, 1, 80, 16, generator=g) * 8 - 4
    return mels, torch.randn(batch, frames, 64, generator=g) * 0.5, torch.rand(batch, frames, 1, generator=g)


def test_output_is_one_64_d_expression_per_frame(expnet):
    mels, ref, blink = _inputs(2, 7)
    out = expnet(mels, ref, blink)
    assert out.shape == (2, 7, 64) and torch.isfinite(out).all()


def test_frames_are_independent_of_the_chunk_they_are_computed_in(expnet):
    mels, ref, blink = _inputs(1, 10)
    whole = expnet(mels, ref, blink)
    for t in (0, 4, 9):
        alone = expnet(mels[:, t:t + 1], ref[:, t:t + 1], blink[:, t:t + 1])
        torch.testing.assert_close(alone[:, 0], whole[:, t], atol=1e-5, rtol=0)


def test_reference_expression_and_blink_enter_linearly_through_mapping1(expnet):
    """mapping1 sees [audio 512, β0 64, blink 1]; a change of β0 / blink shifts the output by W·Δ."""
    mels, ref, blink = _inputs(1, 3)
    base = expnet(mels, ref, blink)
    weight = expnet.mapping1.weight
    torch.testing.assert_close(expnet(mels, ref, blink + 0.5) - base, (0.5 * weight[:, -1]).expand(1, 3, 64),
                               atol=1e-5, rtol=0)
    delta = torch.zeros(1, 3, 64)
    delta[..., 5] = 1.0
    torch.testing.assert_close(expnet(mels, ref + delta, blink) - base, weight[:, 512 + 5].expand(1, 3, 64),
                               atol=1e-5, rtol=0)
