"""What the benchmark scripts start from: the repository on ``sys.path``, their common options
(model folder, picture, speech, preprocess mode, batch size) and the loaded models + source face."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sadtalker_core.models import SadTalkerModels, load_models
from sadtalker_core.pipeline import extract_face
from sadtalker_core.precision import Precision
from sadtalker_core.render import GeneratorSettings
from sadtalker_core.source import SourceFace, read_image

MEDIA = REPO / "tests" / "data" / "media"
SIZE = 256


def add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoints", type=Path, required=True,
                        help="model folder (with fake weights: one without the RetinaFace / FAN files, so that "
                             "dlib finds the face)")
    parser.add_argument("--image", type=Path, default=MEDIA / "people_0.png")
    parser.add_argument("--audio", type=Path, default=MEDIA / "RD_Radio31_000.wav")
    parser.add_argument("--preprocess", default="crop")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--precision", choices=[p.value for p in Precision], default="exact",
                        help="the generator's precision (sadtalker_core.render.generator_settings)")


def input_arguments(args: argparse.Namespace) -> list[str]:
    """The options of :func:`add_input_options` as command-line words (to pass to a subprocess)."""
    return ["--checkpoints", str(args.checkpoints), "--image", str(args.image), "--audio", str(args.audio),
            "--preprocess", args.preprocess, "--batch-size", str(args.batch_size), "--precision", args.precision]


def load_source(args: argparse.Namespace) -> tuple[SadTalkerModels, SourceFace]:
    """Every network on the CPU (the renderer set up for ``args.precision``), and the face of ``args.image``."""
    models = load_models(args.checkpoints, SIZE, "cpu", generator_settings=GeneratorSettings(args.precision))
    source = extract_face(models, read_image(args.image), args.preprocess, name=str(args.image))
    return models, source
