"""Seconds per frame of the two face-enhancement paths: the official one (whole frame, RetinaFace,
FFHQ alignment, restorer, ParseNet mask, paste into the 2x frame: ``post/face_restore.py``) and the
crop path (the 256 face crop resized to 512, restored and resized back, 1x: ``post/enhance.py``).

    python benchmarks/enhance_paths.py --checkpoints DIR [--rounds 2] [--threads 2] [--json OUT.json]

Frames: the 256 px face crop (what ``crop`` mode renders) and a 592 x 592 picture (a ``full``-mode
frame), both made from people_0.png.  The restorer is a GFPGAN v1.4-sized network with random
weights; ``DIR`` needs ``detection_Resnet50_Final.pth`` and ``parsing_parsenet.pth`` (fake weights
time the same).  Fake RetinaFace weights report "faces" anywhere, so the official path restores
the best detection only, as a portrait has one face; detection is timed on the whole frame.  The
paths alternate within each round, so that a busy machine slows them alike; the first round warms
up and is dropped; figures are medians.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import torch
from inputs import MEDIA  # also puts the repository on sys.path
from report import add_output_options, report

from sadtalker_core.networks.parsenet import load_parsenet
from sadtalker_core.networks.retinaface import load_retinaface
from sadtalker_core.post.enhance import load_face_enhancer
from sadtalker_core.post.face_restore import FaceRestorer, align_face, find_faces, parse_mask, restore_face

FRAMES = {"256 face crop": 256, "592 x 592 picture": 592}


def gfpgan_file(folder: Path) -> Path:
    """GFPGAN v1.4 (clean, 512 px, channel multiplier 2) with random weights, saved as the official file."""
    from spandrel.architectures.GFPGAN import GFPGAN

    torch.manual_seed(0)
    model = GFPGAN(out_size=512, num_style_feat=512, channel_multiplier=2, decoder_load_path=None, fix_decoder=False,
                   num_mlp=8, input_is_latent=True, different_w=True, narrow=1, sft_half=True)
    path = folder / "GFPGANv1.4.pth"
    torch.save({"params_ema": model.state_dict()}, path)
    return path


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    add_output_options(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    picture = cv2.cvtColor(cv2.imread(str(MEDIA / "people_0.png")), cv2.COLOR_BGR2RGB)
    with tempfile.TemporaryDirectory() as work:
        enhancer = load_face_enhancer(gfpgan_file(Path(work)))
    restorer = FaceRestorer(load_retinaface(args.checkpoints / "detection_Resnet50_Final.pth"), enhancer,
                            load_parsenet(args.checkpoints / "parsing_parsenet.pth"))
    figures = {}
    for name, side in FRAMES.items():
        frame = cv2.resize(picture, (side, side), interpolation=cv2.INTER_LANCZOS4)
        crop = torch.from_numpy(frame).permute(2, 0, 1).unsqueeze(0).float() / 255.0
        seconds: dict[str, list[float]] = {key: [] for key in ("crop path", "detection", "official, one face",
                                                                "of which the parser")}
        for _ in range(args.rounds + 1):
            seconds["crop path"].append(timed(lambda crop=crop: enhancer.enhance(crop))[0])
            took, faces = timed(lambda frame=frame: find_faces(restorer.detector, frame))
            seconds["detection"].append(took)
            seconds["official, one face"].append(timed(lambda f=frame, d=faces[:1]: restorer.restore(f, d))[0])
            face = restore_face(enhancer, align_face(frame, faces[0]), restorer.upscale).face
            seconds["of which the parser"].append(timed(lambda face=face: parse_mask(restorer.parser, face))[0])
        medians = {key: statistics.median(values[1:]) for key, values in seconds.items()}
        medians["official per frame"] = medians["detection"] + medians["official, one face"]
        medians["detections (fake weights)"] = len(faces)
        figures[name] = medians

    rows = [f"| {name} | {f['crop path']:.2f} | {f['detection']:.2f} | {f['official, one face']:.2f} | "
            f"{f['of which the parser']:.2f} | **{f['official per frame']:.2f}** | "
            f"{f['official per frame'] / f['crop path']:.1f} |" for name, f in figures.items()]
    table = "\n".join([
        f"Seconds per frame, CPU, {args.threads} threads, float32, median of {args.rounds} rounds",
        "",
        ("| frame | crop path (1x) | official: detection | official: one face (align, restore, parse, paste 2x) "
         "| of which the parser | official per frame | official / crop |"),
        "|---|---|---|---|---|---|---|", *rows])
    report(args, figures, table)


if __name__ == "__main__":
    main()
