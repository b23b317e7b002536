"""Face enhancement: official-format enhancer files load through spandrel and restore crop batches."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from spandrel.architectures.Compact import Compact
from spandrel.architectures.GFPGAN import GFPGAN
from tf32_probe import tf32_seen_by
from torch import nn

from sadtalker_core import precision
from sadtalker_core.post.enhance import (
    FACE_ARCHITECTURES,
    EnhancerError,
    FaceArchitecture,
    FaceEnhancer,
    load_face_enhancer,
)
from sadtalker_core.precision import compute_dtype


@pytest.fixture(scope="module")
def gfpgan_file(tmp_path_factory) -> Path:
    """A GFPGAN v1.4 ("clean", 512 px, channel multiplier 2) with random weights, saved the way
    the official GFPGANv1.4.pth is: the state dict under ``params_ema``."""
    torch.manual_seed(0)
    model = GFPGAN(
        out_size=512, num_style_feat=512, channel_multiplier=2, decoder_load_path=None, fix_decoder=False,
        num_mlp=8, input_is_latent=True, different_w=True, narrow=1, sft_half=True,
    )
    path = tmp_path_factory.mktemp("enhancer") / "GFPGANv1.4.pth"
    torch.save({"params_ema": model.state_dict()}, path)
    return path


@pytest.fixture()
def sr_file(tmp_path) -> Path:
    """A small 2x Real-ESRGAN Compact super-resolution model: a spandrel model, but not a face restorer."""
    path = tmp_path / "2x_compact.pth"
    torch.save(Compact(num_feat=8, num_conv=2, upscale=2).state_dict(), path)
    return path


def test_gfpgan_file_enhances_a_batch_of_crops(gfpgan_file, native_precision):
    enhancer = load_face_enhancer(gfpgan_file, precision=native_precision)
    dtype = compute_dtype(native_precision, "cpu")
    assert (enhancer.architecture.name, enhancer.size, enhancer.dtype) == ("GFPGAN", 512, dtype)

    torch.manual_seed(1)
    crops = torch.rand(2, 3, 96, 80, dtype=dtype)
    out = enhancer.enhance(crops)
    assert out.shape == crops.shape and out.dtype == dtype and out.device == crops.device
    assert torch.isfinite(out.float()).all() and 0 <= out.min() and out.max() <= 1
    assert (out - crops).abs().float().mean() > 0.01  # the network did something
    assert torch.equal(enhancer.enhance(crops, strength=0.0), crops)


class ScaledInput(nn.Module):
    """Stand-in network: returns its [-1, 1] input times ``gain`` (and records what it saw)."""

    def __init__(self, gain: float):
        super().__init__()
        self.gain = gain
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the stand-in a dtype
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, fidelity: float) -> torch.Tensor:
        self.seen.append(x)
        return x * self.gain * fidelity


def stand_in(gain: float = 1.0, size: int = 64) -> FaceEnhancer:
    arch = FaceArchitecture("StandIn", size, lambda model, x, fidelity: model(x, fidelity))
    return FaceEnhancer(Path("stand_in.pth"), arch, ScaledInput(gain))


def test_crops_are_resized_to_the_native_size_and_back():
    enhancer = stand_in(size=64)
    crops = torch.full((3, 3, 40, 50), 0.75)
    out = enhancer.enhance(crops, fidelity=1.0)
    assert enhancer.model.seen[0].shape == (3, 3, 64, 64)
    assert enhancer.model.seen[0].min() == pytest.approx(0.5)  # 0.75 in [0, 1] is 0.5 in [-1, 1]
    assert out.shape == crops.shape and torch.allclose(out, crops)


def test_strength_blends_restored_and_input_and_fidelity_reaches_the_network():
    enhancer = stand_in(gain=0.0)  # "restores" every crop to mid grey (0 in [-1, 1])
    crops = torch.ones(1, 3, 64, 64)
    assert torch.allclose(enhancer.enhance(crops, strength=1.0), torch.full_like(crops, 0.5))
    assert torch.allclose(enhancer.enhance(crops, strength=0.5), torch.full_like(crops, 0.75))
    grey_by_fidelity = stand_in(gain=-1.0)  # output = -x * fidelity
    assert torch.allclose(grey_by_fidelity.enhance(crops, fidelity=0.0), torch.full_like(crops, 0.5))
    with pytest.raises(ValueError, match="strength must be between 0 and 1, got 1.5"):
        enhancer.enhance(crops, strength=1.5)


def test_the_network_runs_in_its_own_dtype_and_crops_come_back_in_theirs():
    enhancer = stand_in()
    crops = torch.rand(2, 3, 64, 64, dtype=torch.float16)
    out = enhancer.enhance(crops, fidelity=1.0)
    assert enhancer.model.seen[0].dtype == torch.float32
    assert out.dtype == torch.float16 and torch.allclose(out.float(), crops.float(), atol=1e-3)


def test_float16_is_not_used_for_networks_that_do_not_support_it(gfpgan_file, monkeypatch):
    monkeypatch.setattr(precision, "reduced_dtype", lambda device: torch.float16)  # as on an older GPU
    assert load_face_enhancer(gfpgan_file, precision="fast").dtype == torch.float32


def test_crops_in_the_wrong_layout_are_refused():
    with pytest.raises(ValueError, match=r"float tensor \(N, 3, H, W\).*torch.uint8 tensor of shape \(2, 64, 64, 3\)"):
        stand_in().enhance(torch.zeros(2, 64, 64, 3, dtype=torch.uint8))


def test_the_official_architectures_are_known():
    assert set(FACE_ARCHITECTURES) == {"GFPGAN", "RestoreFormer", "CodeFormer"}
    assert {arch.size for arch in FACE_ARCHITECTURES.values()} == {512}


def test_a_non_face_model_is_refused_naming_the_file(sr_file):
    with pytest.raises(EnhancerError, match=rf"{sr_file} holds a RealESRGAN Compact model \(purpose: SR\), not a face restoration model"):
        load_face_enhancer(sr_file)


def test_a_truncated_file_is_refused_naming_the_file(sr_file):
    data = sr_file.read_bytes()
    sr_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(EnhancerError, match=rf"{sr_file} cannot be read as a model file .* download it again"):
        load_face_enhancer(sr_file)


def test_a_state_dict_of_no_known_architecture_is_refused(tmp_path):
    path = tmp_path / "random.pth"
    torch.save({"layer.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(EnhancerError, match=rf"{path} is not a model architecture spandrel knows"):
        load_face_enhancer(path)


def test_missing_files_and_foreign_formats_are_refused(tmp_path):
    with pytest.raises(EnhancerError, match="not found; download GFPGANv1.4.pth"):
        load_face_enhancer(tmp_path / "GFPGANv1.4.pth")
    onnx = tmp_path / "GFPGANv1.4.onnx"
    onnx.write_bytes(b"onnx")
    with pytest.raises(EnhancerError, match=r"must be a \.pth / \.pt / \.ckpt / \.safetensors file, got '\.onnx'"):
        load_face_enhancer(onnx)


def test_the_restorer_computes_float32_in_float32_even_where_the_caller_allows_tf32():
    enhancer = stand_in()
    with tf32_seen_by(enhancer.model) as seen:
        enhancer.enhance(torch.rand(1, 3, 64, 64))
    assert seen == [False]
