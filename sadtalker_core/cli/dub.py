"""``sadtalker dub``: a talking video with new speech, the same video with the mouth following it
(:mod:`sadtalker_core.dub`)."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from .generate import Progress, _read_audio, device_and_precision

if TYPE_CHECKING:
    from ..io.video_reader import VideoInfo
    from ..models import SadTalkerModels
    from ..motion import AudioFeatures


@dataclass(frozen=True)
class DubbedClip:
    """What ``dub`` wrote: the video at ``path``, ``num_frames`` frames of ``size`` (width, height) at ``fps``."""

    path: Path
    num_frames: int
    size: tuple[int, int]
    fps: int


def dub_line(clip: DubbedClip) -> str:
    """The line ``dub`` (and ``generate-batch`` for a dub row) prints for a written clip."""
    return f"{clip.path}: {clip.num_frames} frames, {clip.size[0]}x{clip.size[1]}, {clip.fps} fps"


def check_dub_arguments(args: argparse.Namespace) -> None:
    """What can be checked before anything loads: the video and the speech are files."""
    for path, flag in ((args.video, "--video"), (args.audio, "--audio")):
        if not path.is_file():
            raise InputError(f"{flag} {path}: no such file")


@dataclass(frozen=True)
class DubInputs:
    """A dub's video (what it holds) and speech, read before any model loads."""

    video: VideoInfo
    fps: int
    audio: AudioFeatures


def read_dub_inputs(args: argparse.Namespace) -> DubInputs:
    """The output checked writable, then the video probed and the speech read."""
    from ..dub import video_rate
    from ..io.video_reader import probe_video
    from ..io.video_writer import check_writable

    check_writable(args.out)
    info = probe_video(args.video)
    return DubInputs(info, video_rate(info.fps, args.video), _read_audio(args.audio, args.max_seconds))


def dub_clip(models: SadTalkerModels, args: argparse.Namespace, inputs: DubInputs, progress: Progress) -> DubbedClip:
    """The video's faces, the motion and the render with loaded models, streamed into ``args.out``
    (written under a temporary name and renamed when complete, as every video)."""
    from ..dub import DubOptions, dub_frames, streamed_video
    from ..io.audio import AudioTrack
    from ..io.video_writer import VideoWriter

    options = DubOptions(length=args.length, mode=args.preprocess, paste=args.paste,
                         expression_scale=args.expression_scale, batch_size=args.batch_size,
                         crop_landmarks=args.crop_landmarks, face_index=args.face_index, face_order=args.face_order)
    progress.say(f"finding the face in every frame of {args.video}")
    frames = streamed_video(args.video)
    dubbed = dub_frames(models, frames, inputs.audio, options, fps=inputs.fps, name=str(args.video))
    size = (inputs.video.width, inputs.video.height)
    with progress.bar("rendering", dubbed.num_frames) as bar, \
            VideoWriter(args.out, fps=inputs.fps, audio=AudioTrack(dubbed.wav, dubbed.sample_rate)) as writer:
        for frame in dubbed.frames:
            writer.write(frame[None])
            size = (frame.shape[1], frame.shape[0])
            bar.update(1)
    return DubbedClip(args.out, dubbed.num_frames, size, inputs.fps)


def run_dub(args: argparse.Namespace) -> DubbedClip:
    """Everything ``dub`` does, cheapest checks first: the files, the device, the speech, then the
    models and :func:`dub_clip` (which ``generate-batch`` runs for its dub rows too)."""
    from ..models import load_models
    from ..render import GeneratorSettings

    progress = Progress(args.quiet)
    check_dub_arguments(args)
    device, precision = device_and_precision(args)
    inputs = read_dub_inputs(args)
    progress.say(f"loading the {args.size} px models from {args.checkpoints}")
    models = load_models(args.checkpoints, args.size, device, GeneratorSettings(precision))
    return dub_clip(models, args, inputs, progress)
