"""Checkpoint loading: official layouts read as they are, and every bad file gets a clear error."""
from __future__ import annotations

import json
import re
from collections import OrderedDict

import pytest
import torch
from paths import CORE_FILES, MANIFESTS
from safetensors.torch import save_file
from torch import nn

from sadtalker_core.checkpoints import (
    OFFICIAL_LAYOUTS,
    CheckpointError,
    layout_for,
    load_into,
    load_section_into,
    read_section,
)


class TinyNet(nn.Module):
    """A conv + batch norm, enough to exercise keys, shapes and BatchNorm buffers."""

    def __init__(self, channels: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


def _manifest_sections(name: str) -> dict[str, set[str]]:
    """Expected inner keys per section, derived from the shared manifest of an official file."""
    manifest = json.loads((MANIFESTS / f"{name}.json").read_text())
    layout = OFFICIAL_LAYOUTS[name]
    out: dict[str, set[str]] = {}
    for section, where in layout.sections.items():
        if layout.container == "torch":
            keys = {k.split(".", 1)[1] for k in manifest["tensors"] if k.split(".", 1)[0] == where}
        else:
            keys = {k[len(where):] for k in manifest["tensors"] if k.startswith(where)}
        out[section] = {k.removeprefix("module.") for k in keys}
    return out


@pytest.mark.parametrize("name", CORE_FILES)
def test_every_section_of_an_official_file_reads_with_the_manifest_keys_and_shapes(weights_dir, name):
    manifest = json.loads((MANIFESTS / f"{name}.json").read_text())["tensors"]
    for section, keys in _manifest_sections(name).items():
        state = read_section(weights_dir / name, section)
        assert set(state) == keys
        where = OFFICIAL_LAYOUTS[name].sections[section]
        some_key = sorted(state)[0]
        full_key = f"{where}.{some_key}" if OFFICIAL_LAYOUTS[name].container == "torch" else where + some_key
        assert list(state[some_key].shape) == manifest[full_key]["shape"]


def test_retinaface_keys_lose_their_dataparallel_prefix(tmp_path):
    net = TinyNet()
    flat = OrderedDict((f"module.{k}", v) for k, v in net.state_dict().items())
    path = tmp_path / "detection_Resnet50_Final.pth"
    torch.save(flat, path)
    assert set(read_section(path, "retinaface")) == set(net.state_dict())


def test_retinaface_file_without_prefix_reads_the_same(tmp_path):
    net = TinyNet()
    path = tmp_path / "detection_Resnet50_Final.pth"
    torch.save(net.state_dict(), path)
    assert set(read_section(path, "retinaface")) == set(net.state_dict())


def test_legacy_file_extra_entries_such_as_optimizer_state_are_ignored(tmp_path):
    net = TinyNet()
    optimizer = torch.optim.Adam(net.parameters())
    net(torch.zeros(1, 3, 5, 5)).sum().backward()
    optimizer.step()
    path = tmp_path / "mapping_00229-model.pth.tar"
    torch.save({"mapping": net.state_dict(), "optimizer_mapping": optimizer.state_dict(), "epoch": 229}, path)
    target = TinyNet()
    load_section_into(target, path, "mapping")
    assert torch.equal(target.conv.weight, net.conv.weight)


def test_num_batches_tracked_may_be_absent(tmp_path):
    source = TinyNet()
    with torch.no_grad():
        source.norm.running_mean.fill_(0.5)
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    target = load_into(TinyNet(), state, "test")
    assert torch.equal(target.norm.running_mean, source.norm.running_mean)


def test_safetensors_bundle_reads_only_the_requested_prefix(tmp_path):
    net = TinyNet()
    tensors = {f"generator.{k}": v for k, v in net.state_dict().items()}
    tensors.update({f"kp_extractor.{k}": v + 1 for k, v in net.state_dict().items() if v.is_floating_point()})
    path = tmp_path / "SadTalker_V0.0.2_256.safetensors"
    save_file(tensors, str(path))
    state = read_section(path, "generator")
    assert set(state) == set(net.state_dict())
    assert torch.equal(state["conv.weight"], net.conv.weight)


def test_renamed_bundle_is_still_read_as_a_bundle():
    assert layout_for("downloads/SadTalker_V0.0.2_256 (1).safetensors").sections == OFFICIAL_LAYOUTS[
        "SadTalker_V0.0.2_256.safetensors"
    ].sections


def test_unknown_file_name_lists_the_official_names():
    with pytest.raises(CheckpointError, match="epoch_20.pth"):
        layout_for("my_model.bin")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_section(tmp_path / "epoch_20.pth", "face_3drecon")


def test_truncated_torch_file_asks_for_a_new_download(tmp_path):
    path = tmp_path / "auido2exp_00300-model.pth"
    torch.save({"model": TinyNet().state_dict(), "epoch": 300}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"auido2exp_00300-model\.pth.*(truncated|damaged)"):
        read_section(path, "audio2exp")


def test_truncated_safetensors_file_asks_for_a_new_download(tmp_path):
    path = tmp_path / "SadTalker_V0.0.2_256.safetensors"
    save_file({f"generator.{k}": v for k, v in TinyNet().state_dict().items()}, str(path))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="truncated"):
        read_section(path, "generator")


@pytest.mark.parametrize("header", [
    b"[1, 2, 3]",  # not a table
    b'{"generator.w": {"dtype": "F32", "shape": [2]}}',  # no data offsets
    b'{"generator.w": {"dtype": "F32", "shape": "two", "data_offsets": [0, 8]}}',  # shape not numbers
    b'{"generator.w": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}}',  # unknown dtype
    b'{"generator.w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}',  # size does not fit the shape
])
def test_a_damaged_safetensors_header_asks_for_a_new_download(tmp_path, header):
    path = tmp_path / "SadTalker_V0.0.2_256.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
    with pytest.raises(CheckpointError, match="SadTalker_V0.0.2_256.safetensors.*download it again"):
        read_section(path, "generator")


def test_section_the_file_does_not_hold_names_what_it_holds(tmp_path):
    path = tmp_path / "mapping_00229-model.pth.tar"
    torch.save({"mapping": TinyNet().state_dict(), "epoch": 229}, path)
    with pytest.raises(CheckpointError, match="holds no 'generator'.*mapping"):
        read_section(path, "generator")


def test_wrong_file_under_an_official_name_is_detected(tmp_path):
    """An auido2pose file renamed to auido2exp: the expected top-level entry is there but the keys do not fit."""
    path = tmp_path / "epoch_20.pth"
    torch.save({"model": TinyNet().state_dict(), "epoch": 140}, path)
    with pytest.raises(CheckpointError, match="top-level 'net_recon'.*found entries: model, epoch"):
        read_section(path, "face_3drecon")


def test_missing_and_unexpected_keys_and_shapes_are_listed():
    state = dict(TinyNet().state_dict())
    del state["conv.bias"]
    state["extra.weight"] = torch.zeros(1)
    state["norm.weight"] = torch.zeros(7)
    with pytest.raises(CheckpointError) as info:
        load_into(TinyNet(), state, "some_file.pth [mapping]")
    message = str(info.value)
    assert "some_file.pth [mapping]" in message
    assert "missing keys (e.g. conv.bias)" in message
    assert "unexpected keys (e.g. extra.weight)" in message
    assert "norm.weight: expected (4,), found (7,)" in message


def test_pickle_holding_code_objects_is_refused_without_suggesting_to_turn_the_safety_off(tmp_path):
    path = tmp_path / "mapping_00109-model.pth.tar"
    torch.save({"mapping": TinyNet(), "epoch": 109}, path)  # a whole module, not a state dict
    with pytest.raises(CheckpointError) as info:
        read_section(path, "mapping")
    message = str(info.value)
    assert re.fullmatch(r".*mapping_00109-model\.pth\.tar: refused to load: it holds more than tensors and numbers "
                        r"\(Unsupported global: GLOBAL .*TinyNet\).*download it again", message), message
    assert "weights_only" not in message and "\n" not in message


@pytest.mark.parametrize("content, kind", [
    (None, "it is a PNG picture"),  # a picture saved under a checkpoint's name
    (b"<!DOCTYPE html><html><body>Not Found</body></html>", "it is a web page"),
    (b"", "it is empty"),
    (b"hello world", "neither a zip archive nor a pickle"),
])
def test_a_file_that_is_not_a_checkpoint_at_all_says_so_and_asks_for_a_new_download(tmp_path, media_dir, content,
                                                                                       kind):
    path = tmp_path / "mapping_00229-model.pth.tar"
    path.write_bytes((media_dir / "people_0.png").read_bytes() if content is None else content)
    with pytest.raises(CheckpointError) as info:
        read_section(path, "mapping")
    message = str(info.value)
    assert message.startswith(f"{path}: not a PyTorch checkpoint or damaged (")
    assert kind in message and message.endswith("download it again")
    assert "weights_only" not in message and "\n" not in message


def test_non_tensor_entries_in_a_state_dict_are_refused(tmp_path):
    path = tmp_path / "mapping_00109-model.pth.tar"
    torch.save({"mapping": {"first.weight": [1.0, 2.0]}, "epoch": 109}, path)
    with pytest.raises(CheckpointError, match="not tensors.*first.weight"):
        read_section(path, "mapping")
