"""The whole SadTalker path as a few functions over the stages (used by the CLI, nodes and tests).

    picture --extract_source--> SourceFace --make_motion(audio)--> Motion
            --render_face_frames--> face crops (uint8, streamed) --compose_frames--> output frames
            --write_video--> mp4 with the audio

Every step streams: frames are rendered a batch at a time and handed on at once (enhancer,
paste-back, video writer), so memory does not grow with the length of the audio.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
import torch

from .audio import AudioFeatures
from .blink import random_blink_ratio
from .enhance import FaceEnhancer
from .face.crop import PreprocessMode
from .facerender_inputs import coefficient_windows, source_image_tensor
from .keypoints import PoseOverride
from .models import SadTalkerModels
from .motion import COEFF_DIM, Motion, audio_to_motion
from .paste import PasteMethod, paste_frames, restore_aspect
from .render import frames_to_uint8, render_frames
from .source import SourceFace


class BlinkMode(str, Enum):
    RANDOM = "random"  # the official random blink schedule
    OFF = "off"  # no blink condition (ExpNet ratio 0)


@dataclass(frozen=True)
class MotionOptions:
    """How the motion is generated from the audio (official ``inference.py`` options + ours)."""

    pose_style: int = 0  # PoseVAE style, 0..45
    blink: BlinkMode = BlinkMode.RANDOM
    seed: int | None = None  # seeds the blink schedule and PoseVAE's noise; None: global RNGs (official)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blink", BlinkMode(self.blink))


@dataclass(frozen=True)
class RenderOptions:
    """How the motion is rendered and composed."""

    expression_scale: float = 1.0
    still: bool = False  # keep the source's head pose (the official --still)
    batch_size: int = 2
    free_view: PoseOverride | None = None  # per-frame yaw/pitch/roll degrees (official --input_yaw ...)
    paste: PasteMethod = PasteMethod.FEATHER
    enhancer_strength: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "paste", PasteMethod(self.paste))
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


def make_motion(models: SadTalkerModels, source: SourceFace, audio: AudioFeatures,
                options: MotionOptions = MotionOptions(), ref_expression: torch.Tensor | None = None,
                z: torch.Tensor | None = None) -> Motion:
    """Audio -> expression + head pose for ``source`` (ExpNet + PoseVAE + smoothing).

    ``ref_expression`` (T, 64) replaces β0 per frame (blinks then come from it, and the random
    schedule is off, as in the official ``--ref_eyeblink``); ``z`` injects PoseVAE's draws.
    """
    frames = audio.num_frames
    ref = source.source_coeff[0, :COEFF_DIM].to(torch.float32)
    if ref_expression is not None:
        ref = torch.cat([ref_expression.to(torch.float32), ref[None, 64:].expand(frames, -1)], dim=1)
        blink = None
    elif options.blink is BlinkMode.RANDOM:
        blink = torch.from_numpy(random_blink_ratio(frames, options.seed))
    else:
        blink = None
    generator = None
    if options.seed is not None and z is None:
        generator = torch.Generator(device="cpu").manual_seed(options.seed)
    device = models.device
    return audio_to_motion(models.motion, audio.mel_batch(device), ref.to(device),
                           None if blink is None else blink.to(device), options.pose_style, z=z, generator=generator)


def render_face_frames(models: SadTalkerModels, source: SourceFace, motion: Motion,
                       options: RenderOptions = RenderOptions(),
                       enhancer: FaceEnhancer | None = None) -> Iterator[np.ndarray]:
    """Rendered face frames, RGB uint8, resized to the crop's aspect (official video frames),
    ``options.batch_size`` at a time: one (n, h, w, 3) array per batch."""
    render = models.render_models(source.crop.mode)
    windows = coefficient_windows(source.source_coeff, motion.coeff_70(), render.mapping.first[0].in_channels,
                                  options.expression_scale, options.still)
    image = source_image_tensor(source.crop.image, source.size)
    for batch in render_frames(render, image, windows, options.batch_size, options.free_view):
        if enhancer is not None:
            batch = enhancer.enhance(batch, options.enhancer_strength)
        frames = frames_to_uint8(batch).cpu().numpy()
        yield np.stack([restore_aspect(frame, source.crop.original_size) for frame in frames])


def compose_frames(batches: Iterable[np.ndarray], source: SourceFace,
                   options: RenderOptions = RenderOptions()) -> Iterator[np.ndarray]:
    """Output frames one by one: the face frames themselves, or (``full`` / ``extfull``) pasted
    back into the original picture."""
    frames = (frame for batch in batches for frame in batch)
    if source.crop.mode.pastes_back:
        return paste_frames(frames, source.crop, options.paste)
    return frames


@dataclass(frozen=True)
class Clip:
    """What :func:`generate` produced."""

    path: Path
    num_frames: int
    size: tuple[int, int]  # (width, height) of the video frames


def generate(models: SadTalkerModels, source: SourceFace, audio: AudioFeatures, out_path: str | os.PathLike,
             motion: Motion | None = None, motion_options: MotionOptions = MotionOptions(),
             render_options: RenderOptions = RenderOptions(), enhancer: FaceEnhancer | None = None,
             on_frame: Callable[[int, int], None] | None = None) -> Clip:
    """Render ``source`` talking with ``audio`` to an mp4 at ``out_path`` (H.264 + AAC, 25 fps).

    ``motion`` defaults to :func:`make_motion` of the audio.  ``on_frame(done, total)`` is called
    after each frame (progress bars).  The file appears only when complete.
    """
    from .video import AudioTrack, VideoWriter, check_writable

    out_path = Path(out_path)
    check_writable(out_path)
    motion = motion or make_motion(models, source, audio, motion_options)
    total = motion.num_frames
    track = AudioTrack(audio.wav, 16000)
    size = (0, 0)
    with VideoWriter(out_path, fps=motion.fps, audio=track) as writer:
        batches = render_face_frames(models, source, motion, render_options, enhancer)
        for done, frame in enumerate(compose_frames(batches, source, render_options), start=1):
            writer.write(frame)
            size = (frame.shape[1], frame.shape[0])
            if on_frame is not None:
                on_frame(done, total)
    return Clip(out_path, total, size)
