"""Fixtures of the node tests: a stand-in ComfyUI folder (models/sadtalker holding the fake
official files, input/, output/), the loaded model bundle, and real inputs from tests/data/media in
ComfyUI's layouts (IMAGE [B, H, W, 3] float 0..1, AUDIO {"waveform": [1, C, T], "sample_rate"})."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from comfyui_sadtalker.sadtalker_core.io.video_reader import iter_frames
from paths import CORE_FILES
from PIL import Image
from spandrel.architectures.GFPGAN import GFPGAN


def image_of(path: Path) -> torch.Tensor:
    """A picture file as a one-frame IMAGE batch, as Load Image gives it."""
    with Image.open(path) as picture:
        return torch.from_numpy(np.asarray(picture.convert("RGB"), np.float32) / 255.0)[None]


def audio_of(path: Path, seconds: float) -> dict:
    """The first ``seconds`` of a sound file as an AUDIO value, as Load Audio gives it."""
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return {"waveform": torch.from_numpy(samples[: int(seconds * rate)].T.copy())[None], "sample_rate": rate}


@pytest.fixture(scope="session")
def comfy_root(tmp_path_factory, weights_dir) -> Path:
    """A ComfyUI-like folder the nodes use through $SADTALKER_COMFY_ROOT (no detector files: dlib)."""
    root = tmp_path_factory.mktemp("comfy_root")
    models = root / "models" / "sadtalker"
    models.mkdir(parents=True)
    for name in CORE_FILES:
        (models / name).symlink_to(weights_dir / name)
    for folder in ("input", "output", "models/facerestore_models"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SADTALKER_COMFY_ROOT", str(root))
        yield root


@pytest.fixture(scope="session")
def bundle(comfy_root):
    from comfyui_sadtalker.nodes.models import LoadSadTalkerModels

    return LoadSadTalkerModels.execute(size="256", device="cpu", precision="auto", face_detector="auto")[0]


@pytest.fixture(scope="session")
def gfpgan_name(comfy_root) -> str:
    """A GFPGAN v1.4 with random weights, saved as the official file is, in models/facerestore_models."""
    torch.manual_seed(0)
    model = GFPGAN(out_size=512, num_style_feat=512, channel_multiplier=2, decoder_load_path=None,
                   fix_decoder=False, num_mlp=8, input_is_latent=True, different_w=True, narrow=1, sft_half=True)
    torch.save({"params_ema": model.state_dict()}, comfy_root / "models" / "facerestore_models" / "GFPGANv1.4.pth")
    return "GFPGANv1.4.pth"


@pytest.fixture(scope="session")
def portrait(media_dir) -> torch.Tensor:
    return image_of(media_dir / "people_0.png")


@pytest.fixture(scope="session")
def full_body(media_dir) -> torch.Tensor:
    return image_of(media_dir / "full_body_1.png")


@pytest.fixture(scope="session")
def speech(media_dir) -> dict:
    """0.2 s of stereo English speech: 5 video frames."""
    return audio_of(media_dir / "RD_Radio31_000.wav", 0.2)


@pytest.fixture(scope="session")
def short_speech(media_dir) -> dict:
    """0.09 s of Mandarin at 24 kHz: 2 video frames, what the render tests render."""
    return audio_of(media_dir / "chinese_poem1.wav", 0.09)


@pytest.fixture(scope="session")
def video_frames(media_dir) -> torch.Tensor:
    """The first 4 frames (25 fps) of the talking reference video, as Get Video Components gives them."""
    frames = iter_frames(media_dir / "WDA_AlexandriaOcasioCortez_000.mp4")
    first = [next(frames) for _ in range(4)]
    return torch.from_numpy(np.stack(first).astype(np.float32) / 255.0)


@pytest.fixture()
def progress(monkeypatch) -> list[tuple[int, int]]:
    """Records (done, total) of every progress report the nodes make."""
    from comfyui_sadtalker.nodes import comfy

    reports: list[tuple[int, int]] = []
    monkeypatch.setattr(comfy, "progress_bar", lambda total: lambda done: reports.append((done, total)))
    return reports
