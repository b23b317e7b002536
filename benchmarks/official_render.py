"""The official face render, timed the way ``render_speed.py`` times ours (the baseline).

    python benchmarks/official_render.py --checkout SADTALKER --checkpoints DIR --golden make_animation.safetensors

Builds ``AnimateFromCoeff`` from an official SadTalker checkout (``OpenTalker/SadTalker``) and
the checkpoints in DIR (``init_path(..., 256, preprocess='crop')``), then runs the official
``make_animation`` on the make_animation golden's inputs (batch 2, 6 frames), as
the project's baseline of the official code (RESULTS.md) did.  The official ``animate.py`` imports pydub and the video /
enhancer / paste helpers at module level; none of them is used here, so they are stubbed.
Prints one JSON line: load time, first-frame latency, steady seconds per frame (wall and
process CPU), peak RSS, load average, max |frames - golden|.

``--clip-seconds S`` then measures how the official render's memory grows with the clip: in the
same process, ``make_animation`` runs again over S x 25 frames with the generator's forward
replaced by a stand-in that returns the prediction of the real run (a render at 9 s/frame would
take hours), so what grows is the official code's own retention (every frame kept in a list,
then stacked).  The process peak then covers the real render's activations and the retention,
but not both at once: a lower bound of the official peak for that clip.  (``AnimateFromCoeff
.generate`` then keeps further per-frame copies for the video writer; those are not counted.)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import types
from pathlib import Path

from process import cpu_seconds, peak_rss_mib

STUBS = {
    "pydub": {"AudioSegment": None},
    "src.utils.face_enhancer": {"enhancer_generator_with_len": None, "enhancer_list": None},
    "src.utils.paste_pic": {"paste_pic": None},
    "src.utils.videoio": {"save_video_with_watermark": None},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, required=True)
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--golden", type=Path, required=True)
    parser.add_argument("--clip-seconds", type=float, help="also measure the retention for a clip this long")
    args = parser.parse_args()
    sys.path.insert(0, str(args.checkout))
    for name, attributes in STUBS.items():
        sys.modules[name] = types.SimpleNamespace(**attributes)

    import torch
    from safetensors.torch import load_file
    from src.facerender.animate import AnimateFromCoeff
    from src.facerender.modules.make_animation import make_animation
    from src.utils.init_path import init_path

    t0, c0 = time.perf_counter(), cpu_seconds()
    animate = AnimateFromCoeff(init_path(str(args.checkpoints), str(args.checkout / "src" / "config"), 256, False, "crop"), "cpu")
    load = {"wall_s": time.perf_counter() - t0, "cpu_s": cpu_seconds() - c0,
            "peak_rss_mib": peak_rss_mib()}
    golden = load_file(str(args.golden))
    marks, last = [], {}
    forward = animate.generator.forward

    def timed(*a, **k):
        out = forward(*a, **k)
        last["prediction"] = out["prediction"]
        marks.append((time.perf_counter() - t0, cpu_seconds() - c0, out["prediction"].shape[0], os.getloadavg()[0]))
        return out

    animate.generator.forward = timed
    source = golden["source_image"].expand(2, -1, -1, -1)
    t0, c0 = time.perf_counter(), cpu_seconds()
    with torch.no_grad():
        frames = make_animation(source, golden["source_semantics"], golden["target_semantics_list"], animate.generator,
                                animate.kp_extractor, animate.he_estimator, animate.mapping, use_exp=True)
    # [b, i] is frame b * steps + i: row-major order is frame order (padded past frame_num)
    ordered = frames.reshape(-1, *frames.shape[2:])[: golden["frames"].shape[0]]
    steady = sum(m[2] for m in marks[1:])
    clip = {}
    if args.clip_seconds:
        clip = {"clip_seconds": args.clip_seconds,
                "clip_peak_rss_mib_lower_bound": clip_retention(animate, golden, source, last["prediction"], make_animation,
                                                                  round(args.clip_seconds * 25))}
    print(json.dumps({
        "precision": "official",
        "threads": torch.get_num_threads(),
        "frames": frames.shape[0] * frames.shape[1],
        "batch": frames.shape[0],
        "load": load,
        "first_frame_s": marks[0][0],
        "first_frame_cpu_s": marks[0][1],
        "s_per_frame": (marks[-1][0] - marks[0][0]) / steady,
        "cpu_s_per_frame": (marks[-1][1] - marks[0][1]) / steady,
        "load_average": [m[3] for m in marks],
        "peak_rss_mib": peak_rss_mib(),
        "max_abs_vs_golden": float((ordered - golden["frames"]).abs().max()),
        **clip,
    }))


def clip_retention(animate, golden: dict, source, prediction, make_animation, frames: int) -> float:
    """Peak RSS (MiB) after the official ``make_animation`` over ``frames`` frames with a stand-in
    generator that returns a copy of one real ``prediction`` per call."""
    import torch

    animate.generator.forward = lambda *a, **k: {"prediction": prediction.clone()}
    steps = -(-frames // source.shape[0])
    target = golden["target_semantics_list"][:, :1].expand(-1, steps, -1, -1)
    with torch.no_grad():
        make_animation(source, golden["source_semantics"], target, animate.generator, animate.kp_extractor,
                       animate.he_estimator, animate.mapping, use_exp=True)
    return peak_rss_mib()


if __name__ == "__main__":
    main()
