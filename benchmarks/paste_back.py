"""Seconds per frame of the feather paste-back chain (aspect resize -> feather blend -> even-size
padding) on its two paths, side by side in one run: numpy frames (OpenCV, the chain as it was
before the torch path) and tensors (torch, the render's frames on their device).

    python benchmarks/paste_back.py [--frames 8] [--sizes 256 512] [--rounds 3] [--device cpu]
        [--threads N] [--picture full_body_1.png] [--json OUT.json] [--markdown OUT.md]

The renders are stand-ins (a photo resized to the render size, flipped every other frame), pasted
into the picture at full_body_1's ``full``-mode paste box (the paste_pic golden's, 459x458).
Chains timed, each on the same frames, the best of ``--rounds``:

* ``opencv``: numpy frames one at a time, as the Paste back node gives them
  (``cv2.resize`` twice, ``cv2.blendLinear``, numpy padding: the previous chain);
* ``torch, one frame``: each frame a CPU tensor, pasted and padded on its own;
* ``torch, tensor batch``: as the pipeline takes them: the batch's aspect resize at once, then the
  paste and padding frame by frame, each finished frame brought to numpy (on ``--device``).
"""
from __future__ import annotations

import argparse
import os
import time

import cv2
import numpy as np
import torch
from inputs import MEDIA  # also puts the repository on sys.path
from report import add_output_options, report

from sadtalker_core.io.frame_size import pad_to_even
from sadtalker_core.post.paste import FeatherPaste, restore_aspect
from sadtalker_core.source.crop import Box

BOX, CROP_SIZE = Box(174, 11, 633, 469), (459, 458)  # full_body_1, mode full (paste_pic golden)


def _best(run, rounds: int, frames: int) -> float:
    """Best wall seconds per frame of ``run()`` over ``rounds``."""
    best = float("inf")
    for _ in range(rounds):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best / frames


def measure(picture: np.ndarray, size: int, frames: int, rounds: int, device: torch.device) -> dict:
    photo = cv2.resize(cv2.imread(str(MEDIA / "people_0.png")), (size, size), interpolation=cv2.INTER_AREA)
    renders = np.stack([photo if i % 2 == 0 else photo[::-1] for i in range(frames)])
    paste = FeatherPaste(picture, BOX)
    batch = torch.from_numpy(renders).to(device)

    tensors = list(torch.from_numpy(renders))

    def opencv() -> list:
        return [pad_to_even(paste(restore_aspect(r, CROP_SIZE))) for r in renders]

    def torch_frames() -> list:
        return [pad_to_even(paste(restore_aspect(f, CROP_SIZE))).numpy() for f in tensors]

    def torch_batch() -> list:
        return [pad_to_even(paste(face)).cpu().numpy() for face in restore_aspect(batch, CROP_SIZE)]

    worst = max(int(np.abs(a.astype(np.int16) - b).max()) for a, b in zip(opencv(), torch_batch()))
    seconds = {name: _best(run, rounds, frames) for name, run in
               [("opencv", opencv), ("torch, one frame", torch_frames), ("torch, tensor batch", torch_batch)]}
    return {"render_size": size, "frames": frames, "device": str(device), "s_per_frame": seconds,
            "max_abs_difference": worst}


def markdown(results: list[dict], picture: np.ndarray, threads: int) -> str:
    title = (f"Feather paste chain into a {picture.shape[1]}x{picture.shape[0]} picture, box "
             f"{BOX.width}x{BOX.height}, torch threads {threads}, load average {os.getloadavg()[0]:.1f}")
    lines = [title, "",
             "| render | chain | ms per frame | / opencv | max abs difference |", "|---|---|---|---|---|"]
    for r in results:
        base = r["s_per_frame"]["opencv"]
        for name, seconds in r["s_per_frame"].items():
            diff = r["max_abs_difference"] if name == "torch, tensor batch" else ""
            lines.append(f"| {r['render_size']} | {name} ({r['device'] if 'tensor' in name else 'cpu'}) | "
                         f"{1000 * seconds:.2f} | {seconds / base:.2f}x | {diff} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="where the tensor batch is pasted")
    parser.add_argument("--picture", default="full_body_1.png")
    parser.add_argument("--threads", type=int, default=None, help="torch's CPU threads (default: torch's own)")
    add_output_options(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    picture = cv2.imread(str(MEDIA / args.picture))
    with torch.inference_mode():
        results = [measure(picture, size, args.frames, args.rounds, torch.device(args.device)) for size in args.sizes]
    report(args, results, markdown(results, picture, torch.get_num_threads()))


if __name__ == "__main__":
    main()
