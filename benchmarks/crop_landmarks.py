"""What the official second landmark detection costs: ``extract_source`` with ``crop_landmarks``
``detect`` (default) and ``mapped``, side by side on the test pictures (tests/data/media), with dlib's detector.

    python benchmarks/crop_landmarks.py --checkpoints DIR [--rounds 5] [--preprocess crop]
        [--pictures people_0.png art_0.png full_body_1.png] [--json OUT.json] [--markdown OUT.md]

The two settings alternate within each round, so that a busy machine slows both alike; the
table gives the median wall seconds per picture and their ratio.  ``DIR`` needs only a file with
the 3DMM regressor (``epoch_20.pth`` or ``SadTalker_V0.0.2_256.safetensors``; fake weights time
the same).  RetinaFace + FAN are not timed here: with random weights they find no face, so FAN
would never run.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from inputs import MEDIA  # also puts the repository on sys.path
from report import add_output_options, report

from sadtalker_core.networks.recon_net import load_recon_net
from sadtalker_core.source.dlib_detector import DlibDetector
from sadtalker_core.source.face import CropLandmarks, extract_source, read_image

RECON_FILES = ("epoch_20.pth", "SadTalker_V0.0.2_256.safetensors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--preprocess", default="crop")
    parser.add_argument("--pictures", nargs="+", default=["people_0.png", "art_0.png", "full_body_1.png"])
    add_output_options(parser)
    args = parser.parse_args()

    recon_file = next((args.checkpoints / name for name in RECON_FILES if (args.checkpoints / name).is_file()), None)
    if recon_file is None:
        parser.error(f"{args.checkpoints} holds none of {', '.join(RECON_FILES)}")
    recon, detector = load_recon_net(recon_file), DlibDetector()
    figures = {}
    for name in args.pictures:
        image = read_image(MEDIA / name)
        seconds: dict[str, list[float]] = {how.value: [] for how in CropLandmarks}
        for _ in range(args.rounds + 1):  # the first round warms up and is dropped
            for how in CropLandmarks:
                start = time.perf_counter()
                extract_source(image, recon, args.preprocess, 256, detector, name=name, crop_landmarks=how)
                seconds[how.value].append(time.perf_counter() - start)
        figures[name] = {how: statistics.median(values[1:]) for how, values in seconds.items()}

    rows = [f"| {name} | {f['detect']:.3f} | {f['mapped']:.3f} | {f['mapped'] / f['detect']:.2f} |"
            for name, f in figures.items()]
    table = "\n".join([f"extract_source, preprocess {args.preprocess}, dlib, median of {args.rounds} rounds",
                       "", "| picture | detect s | mapped s | mapped / detect |", "|---|---|---|---|", *rows])
    report(args, figures, table)


if __name__ == "__main__":
    main()
