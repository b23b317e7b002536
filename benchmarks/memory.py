"""Peak memory of ``generate`` for 10 s and for 60 s of speech, each in a fresh process.

    python benchmarks/memory.py --checkpoints DIR [--seconds 10 60] [--real-frames 4] [--preprocess crop]

What is measured, per duration, in its own subprocess: the models are loaded, people_0.png is
extracted, the speech (RD_Radio31_000.wav repeated to the duration) goes through the real audio
features and ``make_motion``; then the kernel's peak-RSS mark is reset (``/proc/self/clear_refs``)
and ``generate`` writes the whole clip -- every frame through the real streaming path (coefficient
windows, batches, uint8 conversion, aspect resize, paste-back in full modes, H.264 + AAC writer).
To keep the run short, only the first ``--real-frames`` frames come from the real face renderer;
the later batches repeat (as fresh copies) the last real batch, so every frame after them costs
the writing but not the networks.  The renderer's own working memory is per batch and is
reached in the real batches, so the peak still covers it.

Reported: RSS before ``generate`` (models + inputs), peak RSS during ``generate``, and the
difference, in MiB.  Flat memory means the 60 s peak equals the 10 s peak up to the size of the
longer motion (a few MB).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from inputs import add_input_options, input_arguments, load_source  # first: puts the repository on sys.path
from process import status_mib

from sadtalker_core.motion import MotionOptions, make_motion
from sadtalker_core.motion.audio import DEFAULT_AUDIO, audio_features, load_wav
from sadtalker_core.pipeline import RenderOptions, generate, render_face_frames


@dataclass(frozen=True)
class Measurement:
    seconds: float
    frames: int
    real_frames: int
    rss_before_mib: float
    peak_during_mib: float

    @property
    def growth_mib(self) -> float:
        return self.peak_during_mib - self.rss_before_mib


def reset_peak_rss() -> None:
    """Set the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def real_then_repeated(real_frames: int):
    """A face renderer: :func:`render_face_frames` for the first ``real_frames`` frames (rounded
    up to whole batches), then copies of the last real batch until the clip is complete."""
    def renderer(models, source, motion, options) -> Iterator[np.ndarray]:
        done, last = 0, None
        for batch in render_face_frames(models, source, motion, options):
            yield batch
            done, last = done + len(batch), batch
            if done >= real_frames:
                break
        while done < motion.num_frames:
            batch = last[:min(len(last), motion.num_frames - done)].copy()
            yield batch
            done += len(batch)
    return renderer


def measure(args: argparse.Namespace, seconds: float) -> Measurement:
    models, source = load_source(args)
    speech = load_wav(args.audio)
    wav = np.resize(speech, round(seconds * DEFAULT_AUDIO.sample_rate))  # repeated to the duration
    audio = audio_features(wav)
    motion = make_motion(models.motion, audio.mel_batch(models.device), source.source_coeff, MotionOptions(seed=0),
                         fps=audio.fps)
    before = status_mib("VmRSS")
    reset_peak_rss()
    with tempfile.TemporaryDirectory() as folder:
        clip = generate(models, source, audio, Path(folder) / "clip.mp4", motion,
                        render_options=RenderOptions(batch_size=args.batch_size),
                        renderer=real_then_repeated(args.real_frames))
    return Measurement(seconds, clip.num_frames, args.real_frames, before, status_mib("VmHWM"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_input_options(parser)
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--real-frames", type=int, default=4)
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)  # measure this many seconds
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asdict(measure(args, args.child))))
        return
    print(f"{'audio s':>8} {'frames':>7} {'real':>5} {'RSS before MiB':>15} {'peak during MiB':>16} {'growth MiB':>11}")
    for seconds in args.seconds:
        command = [sys.executable, __file__, "--child", str(seconds), "--real-frames", str(args.real_frames),
                   *input_arguments(args)]
        done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
        result = Measurement(**json.loads(done.stdout))
        print(f"{result.seconds:8.1f} {result.frames:7d} {result.real_frames:5d} {result.rss_before_mib:15.0f} "
              f"{result.peak_during_mib:16.0f} {result.growth_mib:11.0f}")


if __name__ == "__main__":
    main()
