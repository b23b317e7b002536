"""Seconds per output frame of ``full`` mode with a face enhancer, stage by stage, per speed setting.

    python benchmarks/full_mode_stages.py --checkpoints DIR [--frames 4] [--settings exact fast]
        [--picture full_body_1.png] [--json OUT.json] [--markdown OUT.md]

Per setting, in its own process: the models load with the setting (fake weights; face detection
by dlib, since random RetinaFace weights find no face), the picture's face is extracted in
``full`` mode, the motion comes from the test speech, and a GFPGAN v1.4 with random weights
(the official file's architecture and size: 512 px, StyleGAN2 decoder) enhances every frame, in
bfloat16 for ``fast`` where the CPU computes it.  Timed per output frame: the generator
(``animate``), the rest of the face render (MappingNet, keypoints, uint8, aspect resize), the
enhancer, the paste-back (feather and official seamless clone, each on the same frames) and
H.264 encoding.  The first batch (source preparation, warm-up) is left out of the per-frame
figures and reported as the first-frame latency.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from process import peak_rss_mib
from report import add_output_options, report

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / "tests" / "data" / "media"


class Stopwatch:
    """Wall seconds accumulated per stage, counted only while ``on``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.on = False

    def wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            if self.on:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            return out

        return timed


def fake_enhancer_file(folder: Path) -> Path:
    """GFPGAN v1.4 (clean, 512 px, channel multiplier 2) with random weights, saved as the official file."""
    import torch
    from spandrel.architectures.GFPGAN import GFPGAN

    torch.manual_seed(0)
    model = GFPGAN(out_size=512, num_style_feat=512, channel_multiplier=2, decoder_load_path=None, fix_decoder=False,
                   num_mlp=8, input_is_latent=True, different_w=True, narrow=1, sft_half=True)
    path = folder / "GFPGANv1.4.pth"
    torch.save({"params_ema": model.state_dict()}, path)
    return path


def measure(checkpoints: Path, precision: str, frames: int, picture: Path, work: Path) -> dict:
    import torch

    sys.path.insert(0, str(REPO))
    from sadtalker_core.io.frame_size import pad_to_even
    from sadtalker_core.io.video_writer import VideoWriter
    from sadtalker_core.models import load_models
    from sadtalker_core.motion import make_motion
    from sadtalker_core.motion.audio import load_audio_features
    from sadtalker_core.motion.sequences import Motion
    from sadtalker_core.pipeline import RenderOptions, enhance_batches, extract_face, paste_back, render_face_frames
    from sadtalker_core.post.enhance import load_face_enhancer
    from sadtalker_core.post.paste import PasteMethod
    from sadtalker_core.render.generator_settings import GeneratorSettings, fast_dtype
    from sadtalker_core.source import read_image

    # dlib: fake RetinaFace weights find no face
    models = load_models(checkpoints, 256, "cpu", generator_settings=GeneratorSettings(precision), detector="dlib")
    dtype = fast_dtype("cpu") if precision == "fast" else torch.float32
    enhancer = load_face_enhancer(fake_enhancer_file(work), "cpu", dtype)
    source = extract_face(models, read_image(picture), "full", name=picture.name)
    audio = load_audio_features(MEDIA / "RD_Radio31_000.wav")
    full = make_motion(models.motion, audio.mel_batch(models.device), source.source_coeff, fps=audio.fps)
    motion = Motion(full.expression[:frames], full.pose[:frames], full.fps,
                    None if full.blink is None else full.blink[:frames])

    watch = Stopwatch()
    animate = models.generator.animate
    models.generator.animate = watch.wrap("generator", animate)
    enhance = watch.wrap("enhancer", enhancer.enhance)
    object.__setattr__(enhancer, "enhance", enhance)
    options = RenderOptions(batch_size=2)
    face_frames, first_frame = [], None
    t0 = time.perf_counter()
    batches = enhance_batches(map(pad_to_even, render_face_frames(models, source, motion, options)), enhancer)
    next_batch = watch.wrap("face render (all)", lambda: next(batches, None))
    while (batch := next_batch()) is not None:
        if first_frame is None:
            first_frame = time.perf_counter() - t0
            watch.on = True
        face_frames.extend(batch)
    steady = len(face_frames) - options.batch_size
    result = {"precision": precision, "frames": len(face_frames), "first_face_frame_s": first_frame,
              "frame_size": list(source.crop.full_image.shape[1::-1])}
    per_frame = {name: s / steady for name, s in watch.seconds.items()}
    per_frame["face render: rest"] = per_frame.pop("face render (all)") - per_frame["generator"] - per_frame["enhancer"]
    for method in PasteMethod:
        start = time.perf_counter()
        pasted = list(paste_back(face_frames, source.crop, method))
        per_frame[f"paste ({method.value})"] = (time.perf_counter() - start) / len(face_frames)
    start = time.perf_counter()
    with VideoWriter(work / "out.mp4") as writer:
        for frame in pasted:
            writer.write(frame)
    per_frame["H.264 encoding"] = (time.perf_counter() - start) / len(pasted)
    result["s_per_output_frame"] = per_frame
    result["peak_rss_mib"] = peak_rss_mib()
    result["load_average"] = os.getloadavg()[0]
    return result


def markdown(results: list[dict]) -> str:
    lines = []
    for r in results:
        stages = r["s_per_output_frame"]
        total = sum(v for k, v in stages.items() if k != "paste (seamless)")
        lines += [f"`{r['precision']}`: {r['frames']} frames of {r['frame_size'][0]}x{r['frame_size'][1]}, "
                  f"first face frame after {r['first_face_frame_s']:.1f} s, peak RSS {r['peak_rss_mib']:.0f} MiB, "
                  f"load average {r['load_average']:.1f}", "",
                  "| stage | s per output frame | share |", "|---|---|---|"]
        for name, seconds in stages.items():
            share = f"{100 * seconds / total:.1f}%" if name != "paste (seamless)" else "(instead of feather)"
            lines.append(f"| {name} | {seconds:.4f} | {share} |")
        lines += [f"| **total (feather paste)** | **{total:.2f}** | 100% |",
                  f"| paste / generator | {stages['paste (feather)'] / stages['generator']:.2%} (feather), "
                  f"{stages['paste (seamless)'] / stages['generator']:.1%} (seamless) | |", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--settings", nargs="+", default=["exact", "fast"], choices=["exact", "fast"])
    parser.add_argument("--picture", type=Path, default=MEDIA / "full_body_1.png")
    add_output_options(parser)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.checkpoints, args.child, args.frames, args.picture, args.work)))
        return
    results = []
    for precision in args.settings:
        with tempfile.TemporaryDirectory() as work:
            out = subprocess.run([sys.executable, __file__, "--checkpoints", str(args.checkpoints), "--child", precision,
                                  "--frames", str(args.frames), "--picture", str(args.picture), "--work", work],
                                 capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)
    table = markdown(results)
    report(args, results, table)


if __name__ == "__main__":
    main()
