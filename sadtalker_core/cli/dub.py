"""``sadtalker dub``: a talking video with new speech, the same video with the mouth following it
(:mod:`sadtalker_core.dub`)."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .generate import Progress, _read_audio, device_and_precision


@dataclass(frozen=True)
class DubbedClip:
    """What ``dub`` wrote: the video at ``path``, ``num_frames`` frames of ``size`` (width, height) at ``fps``."""

    path: Path
    num_frames: int
    size: tuple[int, int]
    fps: int


def run_dub(args: argparse.Namespace) -> DubbedClip:
    """Everything ``dub`` does, cheapest checks first: the files, the device, the speech, then the
    models, the video's faces, the motion and the render, streamed into the output."""
    from ..dub import DubOptions, dub_frames, streamed_video, video_rate
    from ..io.audio import AudioTrack
    from ..io.video_reader import probe_video
    from ..io.video_writer import VideoWriter, check_writable
    from ..models import load_models
    from ..render import GeneratorSettings

    progress = Progress(args.quiet)
    for path, flag in ((args.video, "--video"), (args.audio, "--audio")):
        if not path.is_file():
            raise InputError(f"{flag} {path}: no such file")
    device, precision = device_and_precision(args)
    check_writable(args.out)
    info = probe_video(args.video)
    fps = video_rate(info.fps, args.video)
    audio = _read_audio(args.audio, args.max_seconds)
    options = DubOptions(length=args.length, mode=args.preprocess, paste=args.paste,
                         expression_scale=args.expression_scale, batch_size=args.batch_size,
                         crop_landmarks=args.crop_landmarks, face_index=args.face_index, face_order=args.face_order)
    progress.say(f"loading the {args.size} px models from {args.checkpoints}")
    models = load_models(args.checkpoints, args.size, device, GeneratorSettings(precision))
    progress.say(f"finding the face in every frame of {args.video}")
    frames = streamed_video(args.video)
    dubbed = dub_frames(models, frames, audio, options, fps=fps, name=str(args.video))
    size = (info.width, info.height)
    with progress.bar("rendering", dubbed.num_frames) as bar, \
            VideoWriter(args.out, fps=fps, audio=AudioTrack(dubbed.wav, dubbed.sample_rate)) as writer:
        for frame in dubbed.frames:
            writer.write(frame[None])
            size = (frame.shape[1], frame.shape[0])
            bar.update(1)
    return DubbedClip(args.out, dubbed.num_frames, size, fps)
