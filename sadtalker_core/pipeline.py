"""The whole SadTalker path as a few functions over the stages (used by the CLI, nodes and tests).

    picture --extract_source--> SourceFace --make_motion(audio)--> Motion
                                             (= make_expression + make_pose, combine_motion)
            --render_face_frames--> face crops (uint8, streamed) --clip_frames--> output frames
              (padded to even sides, enhanced, pasted back)  --generate--> mp4 with the audio

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

from .errors import InputError
from .io.frame_size import face_frame_size, pad_to_even, without_padding
from .models import SadTalkerModels
from .motion.audio import AudioFeatures
from .motion.blink import random_blink_ratio
from .motion.expression import audio_to_expression, reference_coeff
from .motion.files import motion_from_coeffs
from .motion.free_view import free_view
from .motion.pose import audio_to_pose
from .motion.sequences import (
    COEFF_DIM,
    ExpressionSequence,
    Motion,
    PoseSequence,
    combine_motion,
    with_head_motion_scale,
    with_reference_motion,
)
from .post.enhance import FaceEnhancer
from .post.paste import PasteMethod, paste_frames, restore_aspect
from .render.frames import frames_to_uint8, render_frames
from .render.inputs import coefficient_windows, source_image_tensor
from .source.crop import FaceCrop, PreprocessMode
from .source.face import CropLandmarks, SourceFace, extract_sequence, to_rgb_uint8
from .source.landmarks import LandmarkDetector


class BlinkMode(str, Enum):
    RANDOM = "random"  # the official random blink schedule
    OFF = "off"  # no blink condition (ExpNet ratio 0)


@dataclass(frozen=True)
class MotionOptions:
    """How the motion is generated from the audio (official ``inference.py`` options + ours)."""

    pose_style: int = 0  # PoseVAE style, 0..45
    blink: BlinkMode = BlinkMode.RANDOM
    seed: int | None = None  # seeds the blink schedule and PoseVAE's noise; None: torch's global RNG (official)
    head_motion_scale: float = 1.0  # 0: no head motion, 1: as generated, >1: livelier

    def __post_init__(self) -> None:
        object.__setattr__(self, "blink", BlinkMode(self.blink))


@dataclass(frozen=True)
class RenderOptions:
    """How the motion is rendered and composed."""

    expression_scale: float = 1.0
    still: bool = False  # keep the source's head pose (the official --still)
    batch_size: int = 2
    yaw: tuple[float, ...] | None = None  # free-view keyframes in degrees (official --input_yaw ...)
    pitch: tuple[float, ...] | None = None
    roll: tuple[float, ...] | None = None
    paste: PasteMethod = PasteMethod.FEATHER
    enhancer_strength: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "paste", PasteMethod(self.paste))
        if self.batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {self.batch_size}")


def make_expression(models: SadTalkerModels, source: SourceFace, audio: AudioFeatures,
                    blink: BlinkMode | str = BlinkMode.RANDOM, seed: int | None = None,
                    reference: Motion | None = None) -> ExpressionSequence:
    """Audio -> ExpNet's expression of ``source`` for every video frame (no noise).

    ``blink``: the official random blink schedule (seeded by ``seed``) or none; a ``reference``
    (e.g. :func:`extract_frames` of a video) gives per-frame β0 instead, so the eyes follow it
    and the blink ratio is zero (the official ``--ref_eyeblink``).
    """
    frames = audio.num_frames
    ref = source.source_coeff[0, :COEFF_DIM].to(torch.float32)
    ratio = None
    if reference is not None:
        ref = reference_coeff(ref, reference.expression, frames)
    elif BlinkMode(blink) is BlinkMode.RANDOM:
        ratio = torch.from_numpy(random_blink_ratio(frames, seed)).to(models.device)
    expression = audio_to_expression(models.motion.expnet, audio.mel_batch(models.device), ref.to(models.device), ratio)
    return ExpressionSequence(expression, ratio, audio.fps)


def make_pose(models: SadTalkerModels, source: SourceFace, audio: AudioFeatures, pose_style: int = 0,
              seed: int | None = None, z: torch.Tensor | None = None) -> PoseSequence:
    """Audio -> PoseVAE's head pose of ``source`` for every video frame (smoothed).

    ``pose_style``: 0..45; ``seed`` seeds PoseVAE's noise (None: torch's global RNG, as the
    official code); ``z`` injects the draws themselves.
    """
    generator = None
    if seed is not None and z is None:
        generator = torch.Generator(device="cpu").manual_seed(seed)
    ref = source.source_coeff[0, :COEFF_DIM].to(device=models.device, dtype=torch.float32)
    pose = audio_to_pose(models.motion.posevae, audio.mel_batch(models.device), ref, pose_style, z, generator)
    return PoseSequence(pose, audio.fps)


def make_motion(models: SadTalkerModels, source: SourceFace, audio: AudioFeatures,
                options: MotionOptions = MotionOptions(), reference: Motion | None = None,
                reference_pose: Motion | None = None, z: torch.Tensor | None = None) -> Motion:
    """Audio -> expression + head pose for ``source``: :func:`make_expression` + :func:`make_pose`.

    ``reference`` (e.g. :func:`video_motion` of a reference video) gives per-frame β0, so blinks
    come from it and the random schedule is off (the official ``--ref_eyeblink``);
    ``reference_pose`` adds its head motion relative to its first frame (``--ref_pose``);
    ``z`` injects PoseVAE's draws.
    """
    expression = make_expression(models, source, audio, options.blink, options.seed, reference)
    pose = make_pose(models, source, audio, options.pose_style, options.seed, z)
    if reference_pose is not None:
        pose = with_reference_motion(pose, reference_pose.pose)
    return combine_motion(expression, with_head_motion_scale(pose, options.head_motion_scale))


def extract_frames(models: SadTalkerModels, frames: Iterable[np.ndarray], mode: PreprocessMode | str = "crop",
                   detector: LandmarkDetector | None = None, face_index: int | None = None,
                   on_frame: Callable[[int], None] | None = None, name: str = "the video",
                   crop_landmarks: CropLandmarks | str = CropLandmarks.DETECT) -> tuple[SourceFace, Motion]:
    """The face of the first frame and the 3DMM motion of every frame (expression + pose) of a
    picture sequence: one picture, or a video at 25 fps (:func:`~sadtalker_core.io.video_reader.iter_frames`),
    e.g. a reference video for blinks or head pose.  Frames are RGB (uint8, or float in 0..1).
    ``crop_landmarks``: see :func:`~sadtalker_core.source.face.extract_sequence`.  Errors name ``name``."""
    detector = detector or models.detector()
    first: SourceFace | None = None
    coeffs = []
    for index, face in enumerate(extract_sequence(frames, models.recon, detector, mode, models.size, face_index,
                                                  name=name, crop_landmarks=crop_landmarks)):
        first = face if first is None else first
        coeffs.append(face.source_coeff)
        if on_frame is not None:
            on_frame(index + 1)
    if first is None:
        raise InputError(f"{name} has no frames")
    return first, motion_from_coeffs(torch.cat(coeffs))


def video_motion(models: SadTalkerModels, frames: Iterable[np.ndarray], mode: PreprocessMode | str = "crop",
                 detector: LandmarkDetector | None = None, on_frame: Callable[[int], None] | None = None,
                 name: str = "the reference video",
                 crop_landmarks: CropLandmarks | str = CropLandmarks.DETECT) -> Motion:
    """The 3DMM motion of a video (expression + pose per frame), e.g. a reference video for
    blinks or head pose (:func:`extract_frames`).  Errors name ``name``."""
    return extract_frames(models, frames, mode, detector, on_frame=on_frame, name=name,
                          crop_landmarks=crop_landmarks)[1]


def render_face_frames(models: SadTalkerModels, source: SourceFace, motion: Motion,
                       options: RenderOptions = RenderOptions()) -> Iterator[np.ndarray]:
    """Rendered face frames, RGB uint8, resized to the crop's aspect (official video frames),
    ``options.batch_size`` at a time: one (n, h, w, 3) array per batch."""
    render = models.render_models(source.crop.mode)
    windows = coefficient_windows(source.source_coeff, motion.coeff_70(), render.mapping.coeff_nc,
                                  options.expression_scale, options.still)
    image = source_image_tensor(source.crop.image, source.size)
    view = free_view(options.yaw, options.pitch, options.roll, motion.num_frames)
    for batch in render_frames(render, image, windows, options.batch_size, view):
        frames = frames_to_uint8(batch).cpu().numpy()
        yield np.stack([restore_aspect(frame, source.crop.original_size) for frame in frames])


def enhance_frames(frames: torch.Tensor, enhancer: FaceEnhancer, strength: float = 1.0,
                   fidelity: float = 0.5) -> torch.Tensor:
    """Face restoration of a batch of video frames: (n, H, W, 3) float RGB in 0..1 -> the same
    layout, float32 on the CPU (the network runs on its own device).

    The one enhancement path, of the CLI (:func:`clip_frames`) and of the Face enhance node: on the
    face frames as they go to the video, i.e. after the resize to the crop's aspect and the padding
    to even sides, as 8-bit pictures, before paste-back.  Why there and not on the float render
    before the resize: the restorer resizes every frame to its own 512 x 512 input and back anyway,
    so the earlier place saves nothing but one near-identity resize (the crop's aspect is close to
    square) and one 8-bit rounding, both far below what the restorer changes; in exchange the
    enhancer is a stage on ordinary pictures, as in the official code (GFPGANer runs on the 8-bit
    video frames after the aspect resize), so the node graph can place it where it likes and both
    paths give the same frames.
    """
    device = next(enhancer.model.parameters()).device
    crops = frames.to(device).permute(0, 3, 1, 2).contiguous()
    return enhancer.enhance(crops, strength, fidelity).permute(0, 2, 3, 1).float().cpu()


def paste_back(frames: Iterable[np.ndarray], crop: FaceCrop,
               method: PasteMethod | str = PasteMethod.FEATHER) -> Iterator[np.ndarray]:
    """Face frames (at the crop's aspect, or padded from it to even sides) pasted back into
    ``crop.full_image``, one by one, padded to even sides for the video encoders."""
    def exact_size(frame: np.ndarray) -> np.ndarray:
        return without_padding(frame, face_frame_size(frame.shape[1], crop.original_size))

    return (pad_to_even(frame) for frame in paste_frames(map(exact_size, frames), crop, method))


def compose_frames(batches: Iterable[np.ndarray], source: SourceFace,
                   options: RenderOptions = RenderOptions()) -> Iterator[np.ndarray]:
    """Output frames one by one: the face frames themselves, or (``full`` / ``extfull``) pasted
    back into the original picture (:func:`paste_back`)."""
    frames = (frame for batch in batches for frame in batch)
    if source.crop.mode.pastes_back:
        return paste_back(frames, source.crop, options.paste)
    return frames


#: what makes the face frames of a clip: :func:`render_face_frames`'s signature and output
FaceFrameRenderer = Callable[[SadTalkerModels, SourceFace, Motion, RenderOptions], Iterable[np.ndarray]]


def enhance_batches(batches: Iterable[np.ndarray], enhancer: FaceEnhancer,
                    strength: float = 1.0) -> Iterator[np.ndarray]:
    """:func:`enhance_frames` of (n, H, W, 3) uint8 frame batches, as uint8 again (rounded as the
    nodes round an IMAGE to 8 bits)."""
    for batch in batches:
        restored = enhance_frames(torch.from_numpy(batch).float().div_(255.0), enhancer, strength)
        yield np.stack([to_rgb_uint8(frame) for frame in restored.numpy()])


def clip_frames(models: SadTalkerModels, source: SourceFace, motion: Motion,
                options: RenderOptions = RenderOptions(), enhancer: FaceEnhancer | None = None,
                renderer: FaceFrameRenderer = render_face_frames) -> Iterator[np.ndarray]:
    """The video frames of a clip, RGB uint8, one by one, as :func:`generate` writes them and as the
    node chain Render -> Face enhance -> Paste back makes them: face frames padded to even sides,
    enhanced (:func:`enhance_batches`) when an ``enhancer`` is given, then composed
    (:func:`compose_frames`)."""
    batches = (pad_to_even(batch) for batch in renderer(models, source, motion, options))
    if enhancer is not None:
        batches = enhance_batches(batches, enhancer, options.enhancer_strength)
    return compose_frames(batches, source, options)


@dataclass(frozen=True)
class Clip:
    """What :func:`generate` produced."""

    path: Path
    num_frames: int
    size: tuple[int, int]  # (width, height) of the video frames


def generate(models: SadTalkerModels, source: SourceFace, audio: AudioFeatures, out_path: str | os.PathLike,
             motion: Motion | None = None, motion_options: MotionOptions = MotionOptions(),
             render_options: RenderOptions = RenderOptions(), enhancer: FaceEnhancer | None = None,
             on_frame: Callable[[int, int], None] | None = None,
             renderer: FaceFrameRenderer = render_face_frames) -> Clip:
    """Render ``source`` talking with ``audio`` to an mp4 at ``out_path`` (H.264 + AAC, 25 fps).

    ``motion`` defaults to :func:`make_motion` of the audio; the video has one frame per motion
    frame, and the audio is cut or padded with silence to that length.  ``on_frame(done, total)``
    is called after each frame (progress bars).  ``renderer`` makes the face frames (default
    :func:`render_face_frames`; any function of the same signature, e.g. one reading frames
    rendered elsewhere); the frames written are :func:`clip_frames`.  An unwritable ``out_path``
    fails before any work; the file appears only when complete.
    """
    from .io.audio import AudioTrack
    from .io.video_writer import VideoWriter, check_writable

    out_path = Path(out_path)
    check_writable(out_path)
    motion = motion or make_motion(models, source, audio, motion_options)
    total = motion.num_frames
    track = AudioTrack(audio.wav, audio.sample_rate)
    size = (0, 0)
    with VideoWriter(out_path, fps=motion.fps, audio=track) as writer:
        frames = clip_frames(models, source, motion, render_options, enhancer, renderer)
        for done, frame in enumerate(frames, start=1):
            writer.write(frame)
            size = (frame.shape[1], frame.shape[0])
            if on_frame is not None:
                on_frame(done, total)
    return Clip(out_path, total, size)
