"""Background upsampler: a RealESRGAN_x2plus-layout file loads through spandrel and is tiled as
Real-ESRGAN 0.3.0's ``RealESRGANer`` tiles it (compared with that very code)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import spandrel
import torch
from realesrgan_reference import realesrgan_utils
from spandrel.architectures.Compact import Compact

from conformance.fake_weights import fake_tensors
from sadtalker_core.errors import EnhancerError
from sadtalker_core.post.upsample import OFFICIAL_TILE, OFFICIAL_TILE_PAD, load_background_upsampler

FEATURES, GROWTH, BLOCKS = 64, 32, 23


def x2plus_layout() -> dict:
    """Keys and shapes of RealESRGAN_x2plus.pth's ``params_ema`` (basicsr ``RRDBNet(num_in_ch=3,
    num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32, scale=2)``: a 2x model unshuffles its
    input to 12 channels)."""
    shapes = {"conv_first": (FEATURES, 12)}
    for block in range(BLOCKS):
        for rdb in (1, 2, 3):
            for conv in range(1, 6):
                out = FEATURES if conv == 5 else GROWTH
                shapes[f"body.{block}.rdb{rdb}.conv{conv}"] = (out, FEATURES + (conv - 1) * GROWTH)
    shapes.update({name: (FEATURES, FEATURES) for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr")})
    shapes["conv_last"] = (3, FEATURES)
    tensors = {}
    for name, (out, inp) in shapes.items():
        tensors[f"{name}.weight"] = {"shape": [out, inp, 3, 3]}
        tensors[f"{name}.bias"] = {"shape": [out]}
    return {"container": "torch", "tensors": tensors}


@pytest.fixture(scope="module")
def x2plus_file(tmp_path_factory) -> Path:
    """Random weights (the fake-weight rule) in the official file's layout: ``{'params_ema': ...}``."""
    path = tmp_path_factory.mktemp("realesrgan") / "RealESRGAN_x2plus.pth"
    torch.save({"params_ema": dict(fake_tensors(x2plus_layout()))}, path)
    return path


@pytest.fixture(scope="module")
def picture(media_dir) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(media_dir / "people_0.png")), cv2.COLOR_BGR2RGB)


def official(path: Path, frame: np.ndarray, tile: int, tile_pad: int, tmp_path: Path) -> np.ndarray:
    """RealESRGANer as SadTalker builds it (scale 2, pre_pad 0; float32 on the CPU) on an RGB frame
    (handed over as BGR, as GFPGANer does), with the same network spandrel builds from ``path``."""
    model = spandrel.ModelLoader().load_from_file(path).model
    weights = tmp_path / "as_realesrgan_loads_it.pth"
    torch.save({"params_ema": model.state_dict()}, weights)
    upsampler = realesrgan_utils().RealESRGANer(scale=2, model_path=str(weights), model=model, tile=tile,
                                                tile_pad=tile_pad, pre_pad=0, half=False, device=torch.device("cpu"))
    output, mode = upsampler.enhance(np.ascontiguousarray(frame[..., ::-1]), outscale=2)
    assert mode == "RGB"
    return output[..., ::-1]


@pytest.mark.parametrize("tile, tile_pad, box", [
    (16, 4, (101, 180, 138, 209)),  # odd sides (padded to even), 3 x 2 tiles with context inside the picture
    (OFFICIAL_TILE, OFFICIAL_TILE_PAD, (20, 200, 441, 206)),  # SadTalker's tiling: 2 tiles across
])
def test_tiles_are_realesrgans(x2plus_file, picture, tile, tile_pad, box, tmp_path):
    x0, y0, x1, y1 = box
    frame = np.ascontiguousarray(picture[y0:y1, x0:x1])
    upsampler = load_background_upsampler(x2plus_file, tile=tile, tile_pad=tile_pad)
    assert (upsampler.scale, upsampler.tile, upsampler.tile_pad, upsampler.dtype) == (2, tile, tile_pad, torch.float32)
    ours = upsampler.upsample(frame)
    reference = official(x2plus_file, frame, tile, tile_pad, tmp_path)
    assert ours.shape == (2 * frame.shape[0], 2 * frame.shape[1], 3) and ours.dtype == np.uint8
    assert np.abs(ours.astype(int) - reference).max() <= 1
    assert np.mean(ours == reference) > 0.999
    assert ours.std() > 5  # the random network gives a picture, not a constant


def test_tile_0_is_one_pass(x2plus_file, picture):
    frame = np.ascontiguousarray(picture[180:193, 100:117])
    whole = load_background_upsampler(x2plus_file, tile=0).upsample(frame)
    assert whole.shape == (26, 34, 3)
    tiled = load_background_upsampler(x2plus_file, tile=8, tile_pad=2).upsample(frame)
    assert np.abs(tiled.astype(int) - whole).max() > 2  # short context changes the result: tiling took place


def test_files_that_are_not_a_2x_upsampler_are_refused(tmp_path):
    missing = tmp_path / "RealESRGAN_x2plus.pth"
    with pytest.raises(EnhancerError, match="not found; download RealESRGAN_x2plus.pth"):
        load_background_upsampler(missing)
    x1 = tmp_path / "1x_compact.pth"
    torch.save(Compact(num_feat=8, num_conv=2, upscale=1).state_dict(), x1)
    with pytest.raises(EnhancerError, match="purpose Restoration, scale 1.*not a 2x super-resolution model"):
        load_background_upsampler(x1)
    x4 = tmp_path / "4x_compact.pth"
    torch.save(Compact(num_feat=8, num_conv=2, upscale=4).state_dict(), x4)
    with pytest.raises(EnhancerError, match="scale 4"):
        load_background_upsampler(x4)
    damaged = tmp_path / "damaged.pth"
    damaged.write_bytes(b"\x80\x02 not a whole pickle")
    with pytest.raises(EnhancerError, match="download it again"):
        load_background_upsampler(damaged)
