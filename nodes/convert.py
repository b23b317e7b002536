"""ComfyUI's data layouts <-> the core's values, with errors that name the input at fault.

IMAGE: float32 tensor [B, H, W, 3] in 0..1 on the CPU; AUDIO: ``{"waveform": [B, C, T] float32,
"sample_rate": int}``.  The core takes RGB pictures (uint8, or float in 0..1) and 16 kHz mono speech.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from ..sadtalker_core.errors import InputError
from ..sadtalker_core.motion.audio import AudioFeatures, audio_features, to_mono_16k
from ..sadtalker_core.source.face import to_rgb_uint8


def check_image(image: torch.Tensor, name: str = "image") -> torch.Tensor:
    """``image`` if it is an IMAGE batch of at least one picture, else an error naming the input."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[0] < 1 or image.shape[-1] not in (1, 3, 4):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise InputError(f"{name}: expected an IMAGE batch [frames, height, width, 3], got {shape}")
    return image


def image_frames(image: torch.Tensor, name: str = "image") -> np.ndarray:
    """An IMAGE batch as a float32 (B, H, W, C) array (one picture per frame, no copy on the CPU)."""
    return check_image(image, name).detach().cpu().float().numpy()


def uint8_frames(image: torch.Tensor, name: str = "image") -> Iterable[np.ndarray]:
    """The pictures of an IMAGE batch as RGB uint8 (H, W, 3) arrays, one at a time."""
    return (to_rgb_uint8(frame, f"{name} frame {index}") for index, frame in enumerate(image_frames(image, name)))


def to_image(frames: np.ndarray) -> torch.Tensor:
    """(n, H, W, 3) uint8 RGB frames -> an IMAGE batch."""
    return torch.from_numpy(np.ascontiguousarray(frames)).to(torch.float32).div_(255.0)


def audio_clip(audio: dict, seconds: float) -> dict:
    """The first ``seconds`` of an AUDIO value, at its own sample rate and channels."""
    samples = round(seconds * int(audio["sample_rate"]))
    return {"waveform": audio["waveform"][..., :samples], "sample_rate": audio["sample_rate"]}


def speech(audio: dict, name: str = "audio") -> AudioFeatures:
    """An AUDIO value (one clip) -> the mel windows of its 25 fps video frames."""
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise InputError(f"{name}: expected an AUDIO value (connect Load Audio or another audio output)")
    waveform = audio["waveform"]
    if waveform.ndim != 3 or waveform.shape[0] != 1:
        raise InputError(f"{name}: expected one clip, a waveform [1, channels, samples], got {tuple(waveform.shape)}")
    mono = to_mono_16k(waveform[0].detach().cpu().float().numpy(), int(audio["sample_rate"]), source=name)
    return audio_features(mono, source=name)
