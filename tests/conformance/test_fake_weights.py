"""The fake-weight writer follows the documented rule: a seed per key, drawn values scaled by kind,
BatchNorm statistics, spectral-norm vectors from an SVD, the official containers.  (That its files
hold the very tensors the goldens were made with is proven by every golden passing with them.)"""
from __future__ import annotations

import math
import shutil
import zlib

import numpy as np
import pytest
import torch
from golden_files import OUTPUTS_COMPARED

from conformance import __main__ as conformance_main
from conformance.fake_weights import checkpoint_object, ensure_fake_checkpoints, fake_tensors, manifest

LAYOUT = {"container": "safetensors", "tensors": {
    "net.conv.weight": {"shape": [4, 3, 2, 2]},
    "net.conv.bias": {"shape": [4]},
    "net.bn.weight": {"shape": [4]},
    "net.bn.running_mean": {"shape": [4]},
    "net.bn.running_var": {"shape": [4]},
    "net.bn.num_batches_tracked": {"shape": [], "dtype": "int64"},
    "net.scale": {"shape": []},
    "net.sn.weight_orig": {"shape": [5, 2, 3]},
    "net.sn.weight_u": {"shape": [5]},
    "net.sn.weight_v": {"shape": [6]},
    "mapping.fc_exp.weight": {"shape": [8, 16]},
    "net.down.weight": {"shape": [1, 2], "value": [[0.25, 0.75]]},
}}


def _draw(key: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(key.encode())).standard_normal(shape)


def test_each_tensor_follows_the_rule_for_its_kind():
    tensors = fake_tensors(LAYOUT)
    assert list(tensors) == list(LAYOUT["tensors"])
    expect = {
        "net.conv.weight": _draw("net.conv.weight", (4, 3, 2, 2)) / math.sqrt(12),
        "net.conv.bias": 0.02 * _draw("net.conv.bias", (4,)),
        "net.bn.weight": 1 + 0.05 * _draw("net.bn.weight", (4,)),
        "net.bn.running_mean": np.zeros(4),
        "net.bn.running_var": np.ones(4),
        "net.scale": 0.02 * _draw("net.scale", ()),
        "mapping.fc_exp.weight": _draw("mapping.fc_exp.weight", (8, 16)) * 0.1 / 4,  # a gain override
        "net.down.weight": np.array([[0.25, 0.75]]),
    }
    for key, values in expect.items():
        assert tensors[key].dtype == torch.float32
        np.testing.assert_array_equal(tensors[key].numpy(), values.astype(np.float32), err_msg=key)
    assert tensors["net.bn.num_batches_tracked"].dtype == torch.int64
    assert tensors["net.bn.num_batches_tracked"].item() == 0


def test_spectral_vectors_are_the_leading_singular_pair_with_a_positive_sum():
    tensors = fake_tensors(LAYOUT)
    matrix = _draw("net.sn.weight_orig", (5, 2, 3)).reshape(5, 6) / math.sqrt(6)
    u, v = tensors["net.sn.weight_u"].double().numpy(), tensors["net.sn.weight_v"].double().numpy()
    assert u.sum() >= 0
    assert u @ matrix @ v == pytest.approx(np.linalg.svd(matrix, compute_uv=False)[0], rel=1e-6)
    assert np.linalg.norm(u) == pytest.approx(1, rel=1e-6) and np.linalg.norm(v) == pytest.approx(1, rel=1e-6)


def test_torch_containers_nest_state_dicts_under_their_top_level_keys():
    content = checkpoint_object(manifest("mapping_00229-model.pth.tar"))
    assert content["epoch"] == 229
    assert "first.0.weight" in content["mapping"]
    assert content["mapping"]["fc_exp.weight"].shape == (45, 1024)  # 15 keypoints x 3


def test_missing_files_are_written_and_present_ones_kept(tmp_path):
    kept = tmp_path / "mapping_00229-model.pth.tar"
    kept.write_bytes(b"a user's file")
    ensure_fake_checkpoints(tmp_path, ["mapping_00229-model.pth.tar", "mapping_00109-model.pth.tar"])
    assert kept.read_bytes() == b"a user's file"
    written = torch.load(tmp_path / "mapping_00109-model.pth.tar", weights_only=True)
    assert written["epoch"] == 109 and len(written["mapping"]) == 18
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mapping_00109-model.pth.tar", "mapping_00229-model.pth.tar"]


def test_without_golden_arguments_every_golden_of_the_repository_is_checked(goldens_dir, tmp_path, monkeypatch,
                                                                              capsys):
    folder = tmp_path / "goldens"
    folder.mkdir()
    for name in ("keypoint_transformation", "paste_pic"):
        shutil.copy(goldens_dir / f"{name}.safetensors", folder)
    monkeypatch.setattr(conformance_main, "DEFAULT_GOLDENS", folder)
    assert conformance_main.main(["--weights", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ok   keypoint_transformation" in out and "ok   paste_pic" in out and "2 passed, 0 failed" in out
    repository_goldens = sorted(p.stem for p in (conformance_main.DATA / "goldens").glob("*.safetensors"))
    assert repository_goldens == sorted(OUTPUTS_COMPARED)  # the default folder holds every pinned golden
