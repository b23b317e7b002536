"""Seconds per frame of dubbing a video (a source per frame) against picture mode (one source), per speed setting.

    python benchmarks/dub_speed.py --checkpoints DIR [--frames 4] [--batch 2] [--settings exact fast]
        [--json OUT.json] [--markdown OUT.md]

On the first ``--frames`` frames of the 8 s reference video (512 x 512), in ``full`` mode at 256 px,
with fake weights (speed does not depend on the weights' values) and dlib for face detection:

* picture mode: the first frame's face rendered with ``render_frames`` (source keypoints and
  encoding once per clip) driven by the test speech's motion;
* dub: ``render_video_batch`` on each frame's own crop: per batch, the keypoint detector and the
  generator's source encoding of every frame, MappingNet on the source and the driving windows,
  then the generator;
* the dub's per-frame source work alone (``video_source_keypoints``), the video analysis per frame
  (detection + 3DMM: ``track_face`` + ``extract_video_faces``), and the whole ``dub_frames`` per
  output frame (analysis, ExpNet, render, paste-back).

Render figures are the steady batches: the first batch (warm-up, and picture mode's source
preparation, reported on its own) is left out.  ``fast`` runs only where the CPU or GPU computes
bfloat16 natively (else it is reported as skipped).
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

from report import add_output_options, report

REPO = Path(__file__).resolve().parents[1]
VIDEO = REPO / "tests" / "data" / "media" / "WDA_AlexandriaOcasioCortez_000.mp4"
SPEECH = REPO / "tests" / "data" / "media" / "RD_Radio31_000.wav"


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def steady_per_frame(batch_seconds: list[float], batch_frames: list[int]) -> float:
    """Seconds per frame over every batch but the first."""
    return sum(batch_seconds[1:]) / sum(batch_frames[1:])


def measure(setting: str, checkpoints: Path, frame_count: int, batch: int) -> dict:
    import torch

    from sadtalker_core.dub import DubOptions, dub_frames
    from sadtalker_core.io.video_reader import iter_frames
    from sadtalker_core.models import load_models
    from sadtalker_core.motion import MotionOptions, make_motion
    from sadtalker_core.motion.audio import audio_features, load_wav
    from sadtalker_core.precision import reduced_dtype
    from sadtalker_core.render import EXACT, FAST
    from sadtalker_core.render.frames import prepare_source, render_frames
    from sadtalker_core.render.inputs import coefficient_windows, source_image_tensor
    from sadtalker_core.render.video_source import (
        render_video_batch,
        source_images,
        video_source_keypoints,
        video_windows,
    )
    from sadtalker_core.source.tracking import track_face
    from sadtalker_core.source.video_faces import extract_video_faces

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "fast" and reduced_dtype(device) is None:
        return {"setting": setting, "skipped": f"no native reduced precision on this {device}"}
    models = load_models(checkpoints, 256, device, FAST if setting == "fast" else EXACT, detector="dlib")
    detector = models.detector
    frames = list(itertools.islice(iter_frames(VIDEO), frame_count))
    speech = audio_features(load_wav(SPEECH)[:frame_count * 640])

    track, track_s = timed(track_face, frames, detector)
    faces, extract_s = timed(extract_video_faces, frames, track, models.recon, detector, "full", 256)
    render = models.render_models(faces.mode)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def synced(fn, *args):
        out = fn(*args)
        sync()
        return out

    # picture mode: the first frame's face, the speech's motion
    motion = make_motion(models.motion, speech.mel_batch(models.device), faces.first.source_coeff, MotionOptions(seed=0),
                         fps=speech.fps)
    windows = coefficient_windows(faces.first.source_coeff, motion.coeff_70(), render.mapping.coeff_nc)
    image = source_image_tensor(faces.first.crop.image, 256)
    _, prepare_s = timed(synced, prepare_source, render, image, windows.source())
    picture_s, counts = [], []
    stream = render_frames(render, image, windows, batch)
    while True:
        start = time.perf_counter()
        chunk = next(stream, None)
        sync()
        if chunk is None:
            break
        picture_s.append(time.perf_counter() - start)
        counts.append(chunk.shape[0])

    # dub: a source per frame, the frames' own expression (the cost does not depend on it)
    own = video_windows(faces.coeffs, faces.coeffs[:, :64], render.mapping.coeff_nc)
    dub_s, source_s, dub_counts = [], [], []
    for start in range(0, frame_count, batch):
        index = torch.arange(start, min(start + batch, frame_count))
        crops = source_images([faces.crop(int(t), frames[t]).image for t in index], 256)
        _, seconds = timed(synced, render_video_batch, render, crops, *own.windows(index))
        _, keypoint_seconds = timed(synced, video_source_keypoints, render, crops, *own.windows(index))
        dub_s.append(seconds)
        source_s.append(keypoint_seconds)
        dub_counts.append(len(index))

    result, whole_s = timed(lambda: list(dub_frames(models, frames, speech, DubOptions(batch_size=batch),
                                                    detector=detector).frames))
    return {
        "setting": setting,
        "device": device,
        "frames": frame_count,
        "batch": batch,
        "picture_s_per_frame": steady_per_frame(picture_s, counts),
        "picture_source_prepare_s": prepare_s,
        "dub_s_per_frame": steady_per_frame(dub_s, dub_counts),
        "dub_source_work_s_per_frame": steady_per_frame(source_s, dub_counts),
        "analysis_s_per_frame": (track_s + extract_s) / frame_count,
        "dub_frames_s_per_frame": whole_s / len(result),
    }


def table(rows: list[dict]) -> str:
    header = ("| setting | picture s/frame | dub s/frame | dub / picture | per-frame source work s/frame "
              "| picture source prep s (once) | analysis s/frame | whole dub_frames s/frame |")
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if "skipped" in row:
            lines.append(f"| {row['setting']} | skipped: {row['skipped']} | | | | | | |")
            continue
        lines.append(
            f"| {row['setting']} ({row['device']}) | {row['picture_s_per_frame']:.2f} | {row['dub_s_per_frame']:.2f} "
            f"| {row['dub_s_per_frame'] / row['picture_s_per_frame']:.2f} | {row['dub_source_work_s_per_frame']:.2f} "
            f"| {row['picture_source_prepare_s']:.2f} | {row['analysis_s_per_frame']:.2f} "
            f"| {row['dub_frames_s_per_frame']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", type=Path, default=os.environ.get("SADTALKER_FAKE_WEIGHTS_DIR"),
                        help="folder of the (fake or official) model files (default $SADTALKER_FAKE_WEIGHTS_DIR)")
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--settings", nargs="+", default=["exact", "fast"], choices=["exact", "fast"])
    add_output_options(parser)
    args = parser.parse_args()
    if args.checkpoints is None:
        parser.error("give --checkpoints DIR (or set SADTALKER_FAKE_WEIGHTS_DIR)")
    if args.frames < 2 * args.batch:
        parser.error("--frames must be at least two batches (the first batch is warm-up)")
    sys.path.insert(0, str(REPO))
    rows = [measure(setting, args.checkpoints, args.frames, args.batch) for setting in args.settings]
    report(args, rows, table(rows))


if __name__ == "__main__":
    main()
