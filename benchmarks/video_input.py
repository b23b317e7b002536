"""Decode time and memory of a reference video handed to Extract 3DMM: Load Video's VIDEO taken
directly against Get Video Components' IMAGE batch, each in a fresh process.

    python benchmarks/video_input.py --comfyui COMFYUI_DIR [--video PATH] [--speech-seconds 2]
        [--json OUT.json] [--markdown OUT.md]

* ``get_video_components``: ComfyUI's own ``VideoFromFile.get_components()`` (what Get Video
  Components runs): every frame decoded into one float32 IMAGE tensor, then the frames Extract 3DMM
  uses taken from it one to one (``reference_indices``).
* ``video_input``: Extract 3DMM's VIDEO path (``iter_reference_frames`` on the stream source): the
  frames decoded one at a time and only as many as the speech lasts (25 per second), each dropped
  once used.

Per path: wall seconds to hand every used frame over, the peak RSS above the process's RSS after
its imports (``/proc/self/clear_refs`` resets the mark), and frames decoded.  The 3DMM networks are
left out: they cost the same on both paths.  Default video: the 8 s, 512 x 512, 25 fps reference
video of the tests.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from inputs import MEDIA  # first: puts the repository on sys.path
from memory import reset_peak_rss
from process import status_mib
from report import add_output_options, report

from sadtalker_core.config import VIDEO_FPS, ReferenceFrames
from sadtalker_core.io.video_reader import iter_reference_frames, reference_indices

PATHS = ("get_video_components", "video_input")


def measure(path: str, video: Path, used: int, comfyui: Path) -> dict[str, float]:
    """One path's figures, in this process."""
    if path == "get_video_components":
        sys.path.insert(0, str(comfyui))
        from comfy_api.latest._input_impl.video_types import VideoFromFile
    before = status_mib("VmRSS")
    reset_peak_rss()
    start = time.perf_counter()
    if path == "get_video_components":
        images = VideoFromFile(str(video)).get_components().images
        decoded = len(images)
        for index in reference_indices(decoded, VIDEO_FPS, ReferenceFrames.ONE_TO_ONE)[:used]:
            (images[index].numpy() * 255).round()  # as Extract 3DMM takes each IMAGE frame
    else:
        decoded = sum(1 for _ in iter_reference_frames(str(video), ReferenceFrames.ONE_TO_ONE, used))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_above_mib": status_mib("VmHWM") - before, "decoded": decoded, "used": used}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui", type=Path, required=True, help="a ComfyUI checkout (for Get Video Components)")
    parser.add_argument("--video", type=Path, default=MEDIA / "WDA_AlexandriaOcasioCortez_000.mp4")
    parser.add_argument("--speech-seconds", type=float, default=2.0)
    parser.add_argument("--path", choices=PATHS, help=argparse.SUPPRESS)  # the child process's one path
    add_output_options(parser)
    args = parser.parse_args()
    used = round(args.speech_seconds * VIDEO_FPS)
    if args.path:
        print(json.dumps(measure(args.path, args.video, used, args.comfyui)))
        return
    figures = {}
    for path in PATHS:
        child = subprocess.run([sys.executable, __file__, "--comfyui", str(args.comfyui), "--video", str(args.video),
                                "--speech-seconds", str(args.speech_seconds), "--path", path],
                               capture_output=True, text=True, check=True)
        figures[path] = json.loads(child.stdout.strip().splitlines()[-1])
    rows = [f"| {path} | {f['decoded']} | {f['used']} | {f['seconds']:.2f} | {f['peak_above_mib']:.0f} |"
            for path, f in figures.items()]
    table = "\n".join(["| path | frames decoded | frames used | seconds | peak RSS above start (MiB) |",
                       "|---|---:|---:|---:|---:|", *rows])
    report(args, figures, table)


if __name__ == "__main__":
    main()
