"""``generate`` and ``demo``: one clip from a picture and a speech, with progress bars.

Every step is a call into the library; the heavy modules (torch, the media libraries, the networks)
are imported inside the functions, once the arguments have been checked.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, SettingError
from .parser import check_arguments, enhancer_file

if TYPE_CHECKING:
    import numpy as np
    import torch
    from tqdm import tqdm

    from ..models import SadTalkerModels
    from ..motion import AudioFeatures, Motion, MotionOptions
    from ..pipeline import Clip, Enhancement, RenderOptions
    from ..precision import Precision


def motion_options(args: argparse.Namespace) -> MotionOptions:
    from ..motion import MotionOptions

    return MotionOptions(pose_style=args.pose_style, blink=args.blink, seed=args.seed,
                         head_motion_scale=args.head_motion_scale)


def edited_motion(motion: Motion, args: argparse.Namespace) -> Motion:
    """``motion`` with ``--expression-scale`` and the free-view keyframes applied, as the ExpNet and
    Free-view nodes apply them (after ``--save-motion``, and to a ``--load-motion`` file too)."""
    from ..motion import combine_motion, split_motion, with_free_view

    expression, pose = split_motion(motion)
    return combine_motion(expression.scaled(args.expression_scale),
                          with_free_view(pose, args.input_yaw, args.input_pitch, args.input_roll))


def render_options(args: argparse.Namespace) -> RenderOptions:
    from ..pipeline import RenderOptions

    return RenderOptions(still=args.still, batch_size=args.batch_size, paste=args.paste,
                         enhancer_strength=args.enhancer_strength, fps=args.fps)


def _device(name: str, local_rank: int | None = None) -> torch.device:
    """The device ``--device`` names; ``auto`` is :func:`~sadtalker_core.precision.default_device`
    (CUDA, XPU or MPS when there is one, else the CPU), and with several CUDA GPUs the one of this
    process's ``LOCAL_RANK`` (one GPU per process under torchrun)."""
    import torch

    from ..precision import default_device

    if name == "auto":
        device = default_device()
        if device.type != "cuda":
            return device
        count = torch.cuda.device_count()
        return torch.device("cuda", local_rank % count if local_rank is not None and count > 1 else 0)
    device = torch.device(name)
    if device.type != "cuda":
        return device
    if not torch.cuda.is_available():
        raise SettingError(f"--device {name}: this torch has no usable CUDA; use --device cpu")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise SettingError(f"--device {name}: there are {torch.cuda.device_count()} CUDA devices (cuda:0 ...)")
    return device


def device_and_precision(args: argparse.Namespace, local_rank: int | None = None) -> tuple[torch.device, Precision]:
    from ..precision import resolve

    device = _device(args.device, local_rank)
    return device, resolve(args.precision, device)


def _read_audio(path: Path, max_seconds: float | None) -> AudioFeatures:
    from ..motion.audio import DEFAULT_AUDIO, audio_features, load_wav

    wav = load_wav(path)
    if max_seconds is not None:
        wav = wav[:round(max_seconds * DEFAULT_AUDIO.sample_rate)]
    return audio_features(wav, source=str(path))


def _read_picture(path: Path) -> np.ndarray:
    """The picture, with what its decoder prints itself (libpng, libjpeg, OpenCV's log) made the
    detail of the error, or a warning when the picture was read all the same."""
    from ..source import read_image
    from .native_output import NativeStderr

    decoder = NativeStderr()
    try:
        with decoder:
            image = read_image(path)
    except InputError as err:
        if decoder.last is None:
            raise
        raise InputError(f"{err}; the decoder said: {decoder.last}") from err
    if decoder.last is not None:
        warnings.warn(f"{path} may be damaged (the decoder said: {decoder.last}); check the picture", stacklevel=2)
    return image


class Progress:
    """Status lines and tqdm bars on stderr, or nothing when quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr)

    def bar(self, desc: str, total: int | None) -> tqdm:
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="frame", disable=self.quiet, file=sys.stderr, dynamic_ncols=True)


def _reference_motion(models: SadTalkerModels, path: Path, mode: str, frames: int, progress: Progress,
                      crop_landmarks: str, reference_frames: str) -> Motion:
    """The 3DMM motion of a reference video's first ``frames`` motion frames (later ones would be
    cut anyway), its frames taken as ``reference_frames`` says."""
    from ..io.video_reader import iter_reference_frames, reference_frame_count
    from ..pipeline import video_motion

    with progress.bar(f"reference {path.name}", min(frames, reference_frame_count(path, reference_frames))) as bar:
        return video_motion(models, iter_reference_frames(path, reference_frames, frames), mode,
                            on_frame=lambda done: bar.update(done - bar.n), name=str(path),
                            crop_landmarks=crop_landmarks)


@dataclass(frozen=True)
class Engine:
    """What a process loads once and every clip uses: the networks with the face detector, and the
    enhancement (a FaceRestorer in ``official`` mode, a FaceEnhancer in ``crop`` mode)."""

    models: SadTalkerModels
    enhancer: Enhancement | None


def load_engine(args: argparse.Namespace, device: torch.device, precision: Precision, progress: Progress) -> Engine:
    from ..models import load_models
    from ..render import GeneratorSettings

    enhancer = None if args.enhancer is None else load_enhancement(args, device, precision)
    progress.say(f"loading the {args.size} px models from {args.checkpoints}")
    models = load_models(args.checkpoints, args.size, device, GeneratorSettings(precision))
    return Engine(models, enhancer)


def load_enhancement(args: argparse.Namespace, device: torch.device, precision: Precision) -> Enhancement:
    """``--enhancer`` as ``--enhance-mode`` runs it: ``crop`` the bare restorer; ``official`` the
    restorer with RetinaFace and the face parser (looked up in the model folder, then in the
    detectors' folder beside it) and ``--background-enhancer``, upscaling 2x."""
    from ..official_files import FolderKind
    from ..post import EnhanceMode, load_background_upsampler, load_face_enhancer, load_face_restorer

    path = enhancer_file(args.enhancer, args.checkpoints)
    enhancer = load_face_enhancer(path, device, precision)
    if EnhanceMode(args.enhance_mode) is EnhanceMode.CROP:
        return enhancer
    background = None
    if args.background_enhancer is not None:
        background = load_background_upsampler(args.background_enhancer, device, precision)
    folders = (args.checkpoints, args.checkpoints.parent / FolderKind.FACE_DETECTION.value, path.parent)
    return load_face_restorer(enhancer, folders, device, background, strength=args.enhancer_strength)


@dataclass(frozen=True)
class ClipInputs:
    """A clip's picture and speech, read before any model loads."""

    image: np.ndarray
    audio: AudioFeatures


def read_inputs(args: argparse.Namespace) -> ClipInputs:
    """The output checked writable, then the picture and the audio read."""
    from ..io.video_writer import check_writable

    check_writable(args.out)
    return ClipInputs(_read_picture(args.image), _read_audio(args.audio, args.max_seconds))


def render_clip(engine: Engine, args: argparse.Namespace, inputs: ClipInputs, progress: Progress) -> Clip:
    """Face, motion and the render of one clip with loaded models."""
    from ..motion import load_motion, make_motion, save_motion
    from ..pipeline import extract_face, generate

    models, audio = engine.models, inputs.audio
    progress.say(f"3DMM extraction of {args.image}")
    source = extract_face(models, inputs.image, args.preprocess, args.face_index, name=str(args.image),
                          crop_landmarks=args.crop_landmarks, face_order=args.face_order)

    if args.load_motion is not None:
        motion = load_motion(args.load_motion)
    else:
        references = {path: _reference_motion(models, path, args.preprocess, audio.num_frames, progress,
                                               args.crop_landmarks, args.reference_frames)
                      for path in {args.ref_eyeblink, args.ref_pose} - {None}}
        motion = make_motion(models.motion, audio.mel_batch(models.device), source.source_coeff, motion_options(args),
                             reference=references.get(args.ref_eyeblink), reference_pose=references.get(args.ref_pose),
                             fps=audio.fps)
    if args.save_motion is not None:
        save_motion(motion, args.save_motion)
        progress.say(f"motion saved to {args.save_motion}")
    motion = edited_motion(motion, args)

    with progress.bar("rendering", motion.num_frames) as bar:
        return generate(models, source, audio, args.out, motion, render_options=render_options(args),
                        enhancer=engine.enhancer, on_frame=lambda done, total: bar.update(done - bar.n))


def run_generate(args: argparse.Namespace) -> Clip:
    """Everything ``generate`` / ``demo`` do, cheapest checks first: the arguments, the device, the
    output folder, the picture and the audio, then models, face, motion and the render."""
    progress = Progress(args.quiet)
    check_arguments(args)
    device, precision = device_and_precision(args)
    inputs = read_inputs(args)
    return render_clip(load_engine(args, device, precision, progress), args, inputs, progress)


def clip_line(clip: Clip) -> str:
    width, height = clip.size
    return f"{clip.path}: {clip.num_frames} frames, {width}x{height}"


