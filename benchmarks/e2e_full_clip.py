"""One honest full-length run: a portrait + a whole speech clip -> mp4, every frame through the
real networks (no stand-ins), timed stage by stage, and the written file checked.

    python benchmarks/e2e_full_clip.py --checkpoints DIR [--image PIC] [--audio WAV] [--out OUT.mp4]

Defaults: ``tests/data/media/people_0.png`` and ``RD_Radio31_000.wav`` (8 s -> 200 frames), crop
mode, 256 px, batch size 2.  With fake checkpoints, give a folder *without* the RetinaFace / FAN
files (random detector weights find no face) so that dlib finds it.  Prints the figures and,
with ``--json``, writes them to a file.  ``--precision fast`` renders in the fast setting.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from inputs import add_input_options, load_source  # first: puts the repository on sys.path
from process import peak_rss_mib

from sadtalker_core.io.audio import read_audio
from sadtalker_core.io.video_reader import probe_video
from sadtalker_core.motion import MotionOptions, make_motion
from sadtalker_core.motion.audio import DEFAULT_AUDIO, load_audio_features
from sadtalker_core.pipeline import RenderOptions, generate


@dataclass(frozen=True)
class Figures:
    precision: str
    frames: int
    audio_seconds: float  # of the input, cut to whole frames
    video_frames: int  # counted in the written file
    video_seconds: float
    written_audio_seconds: float
    size: tuple[int, int]
    load_and_source_s: float  # model loading + face detection and 3DMM extraction
    motion_s: float
    render_write_s: float
    first_frame_s: float  # render start -> first frame written (includes the source encoding)
    seconds_per_frame: float  # steady state: (render_write_s - first_frame_s) / (frames - 1)
    peak_rss_mib: float
    torch_threads: int
    cpu: str


def run(args: argparse.Namespace) -> Figures:
    start = time.perf_counter()
    models, source = load_source(args)
    extracted = time.perf_counter()
    audio = load_audio_features(args.audio)
    motion = make_motion(models.motion, audio.mel_batch(models.device), source.source_coeff, MotionOptions(seed=0),
                         fps=audio.fps)
    moved = time.perf_counter()
    stamps: list[float] = []

    def on_frame(done: int, total: int) -> None:
        stamps.append(time.perf_counter())
        print(f"\rframe {done}/{total}  {stamps[-1] - moved:7.1f} s", end="", file=sys.stderr, flush=True)

    clip = generate(models, source, audio, args.out, motion, render_options=RenderOptions(batch_size=args.batch_size),
                    on_frame=on_frame)
    done = time.perf_counter()
    print(file=sys.stderr)
    info = probe_video(clip.path)
    track = read_audio(clip.path)
    first = stamps[0] - moved
    return Figures(
        precision=args.precision, frames=clip.num_frames, audio_seconds=len(audio.wav) / DEFAULT_AUDIO.sample_rate, video_frames=info.frame_count,
        video_seconds=info.duration, written_audio_seconds=track.duration, size=clip.size,
        load_and_source_s=extracted - start, motion_s=moved - extracted,
        render_write_s=done - moved, first_frame_s=first,
        seconds_per_frame=(done - moved - first) / max(clip.num_frames - 1, 1),
        peak_rss_mib=peak_rss_mib(),
        torch_threads=torch.get_num_threads(), cpu=platform.processor() or platform.machine(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_input_options(parser)
    parser.add_argument("--out", type=Path, default=Path("e2e_full_clip.mp4"))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    figures = run(args)
    for name, value in asdict(figures).items():
        print(f"{name:24s} {value:.2f}" if isinstance(value, float) else f"{name:24s} {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(figures), indent=2) + "\n")


if __name__ == "__main__":
    main()
