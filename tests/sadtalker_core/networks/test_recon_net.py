"""ReconNet: official key names and shapes, strict loading from both official files, head order."""
from __future__ import annotations

import json

import pytest
import torch

from sadtalker_core.checkpoints import CheckpointError, read_section
from sadtalker_core.networks.recon_net import ReconNet, load_recon_net

MANIFESTS = {
    "SadTalker_V0.0.2_256.safetensors": "face_3drecon.",
    "epoch_20.pth": "net_recon.",
}


@pytest.mark.parametrize("file_name", sorted(MANIFESTS))
def test_state_dict_matches_manifest(file_name, goldens_dir):
    manifest = json.loads((goldens_dir.parent / "manifests" / f"{file_name}.json").read_text())["tensors"]
    prefix = MANIFESTS[file_name]
    expected = {k[len(prefix):]: v["shape"] for k, v in manifest.items() if k.startswith(prefix)}
    ours = {k: list(v.shape) for k, v in ReconNet().state_dict().items()}
    assert ours == expected


@pytest.mark.parametrize("file_name", sorted(MANIFESTS))
def test_loads_strictly_and_runs(file_name, fake_checkpoints):
    path = fake_checkpoints.path(file_name)
    net = load_recon_net(path)
    state = read_section(path, "face_3drecon")
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert not net.training
    with torch.no_grad():
        out = net(torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (2, 257) and torch.isfinite(out).all()


def test_file_without_recon_weights_is_refused(fake_checkpoints):
    with pytest.raises(CheckpointError, match="face_3drecon"):
        load_recon_net(fake_checkpoints.path("mapping_00229-model.pth.tar"))


def test_heads_are_concatenated_in_official_order():
    """id 80, exp 64, tex 80, angle 3, gamma 27, (tx, ty) 2, tz 1: with zero head weights the
    output is the heads' biases in that order, for any input size."""
    net = ReconNet().eval()
    biases = []
    for index, head in enumerate(net.final_layers):
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.constant_(head.bias, float(index))
        biases.append(head.bias.detach())
    with torch.no_grad():
        out = net(torch.rand(1, 3, 64, 64))
    assert [head.out_channels for head in net.final_layers] == [80, 64, 80, 3, 27, 2, 1]
    assert torch.equal(out[0], torch.cat(biases))
