"""Command line: ``python -m sadtalker_core generate | demo | download | conformance``.

Argument parsing and progress bars only; every step is a call into the library.  Options keep
the official ``inference.py`` names (both ``--pose-style`` and ``--pose_style`` spellings work).
A problem with the inputs (a picture without a face, empty audio, a damaged model file, an
output folder that cannot be written, ...) prints one ``error:`` line and exits with status 2.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from tqdm import tqdm

from .errors import SadTalkerError, SettingError
from .models import RENDER_SIZES, SadTalkerModels, load_models
from .motion.audio import DEFAULT_AUDIO, AudioFeatures, audio_features, load_wav
from .motion.files import load_motion, save_motion
from .motion.sequences import Motion
from .pipeline import BlinkMode, Clip, MotionOptions, RenderOptions, generate, make_motion, video_motion
from .post.enhance import FaceEnhancer, load_face_enhancer
from .post.paste import PasteMethod
from .post.video import check_writable, iter_frames, probe_video
from .precision import Precision, resolve
from .render.speed import RenderSpeed
from .source.crop import PreprocessMode
from .source.face import CropLandmarks, extract_source, read_image
from .source.landmarks import LandmarkDetector

ASSETS = Path(__file__).resolve().parent / "assets"
DEMO_IMAGE = ASSETS / "portrait.png"
DEMO_AUDIO = ASSETS / "speech.wav"
#: official ``--enhancer`` names -> the file ``python -m sadtalker_core download`` puts in the model folder
ENHANCER_FILES = {"gfpgan": "GFPGANv1.4.pth", "restoreformer": "RestoreFormer.pth", "codeformer": "codeformer.pth"}
EXIT_BAD_INPUT = 2
def _options(parser: argparse.ArgumentParser) -> None:
    """The options ``generate`` and ``demo`` share."""
    parser.add_argument("--checkpoints", "--checkpoint_dir", type=Path, required=True, metavar="DIR",
                        help="folder with the official model files (python -m sadtalker_core download DIR)")
    parser.add_argument("--preprocess", choices=[m.value for m in PreprocessMode], default="crop",
                        help="crop: the face only; extcrop: a wider crop; resize: the whole picture (already a "
                             "portrait); full / extfull: the face pasted back into the whole picture (default crop)")
    parser.add_argument("--still", action="store_true", help="keep the source's head pose (less head motion)")
    parser.add_argument("--size", type=int, choices=RENDER_SIZES, default=256, help="render size (default 256)")
    parser.add_argument("--pose-style", "--pose_style", type=int, default=0, metavar="N",
                        help="head-motion style, 0..45 (default 0)")
    parser.add_argument("--expression-scale", "--expression_scale", type=float, default=1.0, metavar="X",
                        help="strength of the expression (default 1)")
    parser.add_argument("--head-motion-scale", type=float, default=1.0, metavar="X",
                        help="strength of the head motion: 0 holds the first pose, >1 livelier (default 1)")
    parser.add_argument("--blink", choices=[m.value for m in BlinkMode], default="random",
                        help="random eye blinks, or none (default random)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the blinks and head motion (repeatable runs)")
    parser.add_argument("--face-index", type=int, default=None, metavar="I",
                        help="which face to animate when the picture has several, 0 = largest (default: the largest)")
    parser.add_argument("--crop-landmarks", choices=[m.value for m in CropLandmarks], default="detect",
                        help="detect: find the face again on the crop, as the official code does; mapped: reuse the "
                             "picture's landmarks, one detection fewer (faster, not the official numbers) "
                             "(default detect)")
    parser.add_argument("--batch-size", "--batch_size", type=int, default=2, metavar="N",
                        help="frames rendered at once (default 2)")
    parser.add_argument("--ref-eyeblink", "--ref_eyeblink", type=Path, default=None, metavar="VIDEO",
                        help="a talking-face video whose eye blinks are copied")
    parser.add_argument("--ref-pose", "--ref_pose", type=Path, default=None, metavar="VIDEO",
                        help="a talking-face video whose head motion is copied")
    for axis in ("yaw", "pitch", "roll"):
        parser.add_argument(f"--input-{axis}", f"--input_{axis}", type=float, nargs="+", default=None,
                            metavar="DEG", help=f"free-view {axis} keyframes in degrees, spread over the clip")
    parser.add_argument("--enhancer", default=None, metavar="FILE",
                        help="face enhancer: a GFPGAN / RestoreFormer / CodeFormer file, or gfpgan, restoreformer, "
                             "codeformer for that file in the model folder")
    parser.add_argument("--enhancer-strength", type=float, default=1.0, metavar="X",
                        help="blend of the enhanced face, 0..1 (default 1)")
    parser.add_argument("--paste", choices=[m.value for m in PasteMethod], default=RenderOptions().paste.value,
                        help="how full / extfull put the face back: seamless (the official Poisson blend) or "
                             f"feather (a soft edge, faster) (default {RenderOptions().paste.value})")
    parser.add_argument("--save-motion", type=Path, default=None, metavar="FILE",
                        help="also save the generated motion (.safetensors, .npz or official .mat)")
    parser.add_argument("--load-motion", type=Path, default=None, metavar="FILE",
                        help="use a saved motion instead of generating one from the audio")
    parser.add_argument("--max-seconds", type=float, default=None, metavar="S",
                        help="use only the first S seconds of the audio (a quick preview)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    parser.add_argument("--precision", choices=[p.value for p in Precision], default=Precision.AUTO.value,
                        help="exact: float32, the official numbers; fast: the reduced precision the device computes "
                             "natively (bfloat16 on recent GPUs and CPUs with AVX512-BF16 / AMX, float16 on older "
                             "GPUs), about 2-3x faster renders; auto: fast on a CUDA GPU, exact elsewhere (default)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or status lines")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sadtalker_core",
        description="SadTalker: one portrait + speech -> a talking-head video.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    gen = commands.add_parser("generate", help="render a picture talking with an audio file",
                              description="Render a picture talking with an audio file (mp4, 25 fps, with the audio).")
    gen.add_argument("--image", "--source_image", type=Path, required=True, help="the portrait (PNG, JPEG, ...)")
    gen.add_argument("--audio", "--driven_audio", type=Path, required=True, help="the speech (WAV, FLAC, MP3, ...)")
    gen.add_argument("--out", type=Path, required=True, help="the video to write (.mp4)")
    _options(gen)
    demo = commands.add_parser("demo", help="render the bundled portrait and sentence",
                               description="Render the bundled portrait saying the bundled sentence.")
    demo.add_argument("--out", type=Path, default=Path("demo.mp4"), help="the video to write (default demo.mp4)")
    demo.set_defaults(image=DEMO_IMAGE, audio=DEMO_AUDIO)
    _options(demo)
    for name, text in FORWARDED_HELP.items():
        commands.add_parser(name, help=text, add_help=False)
    return parser


def _check_settings(args: argparse.Namespace) -> None:
    if args.load_motion is not None:
        generated = {"--ref-eyeblink": args.ref_eyeblink, "--ref-pose": args.ref_pose}
        given = [flag for flag, value in generated.items() if value is not None]
        if given or motion_options(args) != MotionOptions():
            raise SettingError(
                "--load-motion uses the saved motion as it is; drop "
                + (", ".join(given) if given else "--pose-style / --blink / --seed / --head-motion-scale")
            )
    if args.max_seconds is not None and args.max_seconds <= 0:
        raise SettingError(f"--max-seconds must be positive, got {args.max_seconds}")


def motion_options(args: argparse.Namespace) -> MotionOptions:
    return MotionOptions(pose_style=args.pose_style, blink=args.blink, seed=args.seed,
                         head_motion_scale=args.head_motion_scale)


def render_options(args: argparse.Namespace) -> RenderOptions:
    def keys(values: list[float] | None) -> tuple[float, ...] | None:
        return None if values is None else tuple(values)

    return RenderOptions(expression_scale=args.expression_scale, still=args.still, batch_size=args.batch_size,
                         yaw=keys(args.input_yaw), pitch=keys(args.input_pitch), roll=keys(args.input_roll),
                         paste=args.paste, enhancer_strength=args.enhancer_strength)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise SettingError(f"--device {name}: not a device name; use auto, cpu, cuda or cuda:N") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingError(f"--device {name}: this torch has no usable CUDA; use --device cpu")
    return device


def _enhancer_path(name: str, checkpoints: Path) -> Path:
    file = ENHANCER_FILES.get(name.lower())
    return checkpoints / file if file is not None else Path(name)


def _read_audio(path: Path, max_seconds: float | None) -> AudioFeatures:
    wav = load_wav(path)
    if max_seconds is not None:
        wav = wav[:round(max_seconds * DEFAULT_AUDIO.sample_rate)]
    return audio_features(wav, source=str(path))


class Progress:
    """Status lines and tqdm bars on stderr, or nothing when quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr)

    def bar(self, desc: str, total: int | None) -> tqdm:
        return tqdm(total=total, desc=desc, unit="frame", disable=self.quiet, file=sys.stderr, dynamic_ncols=True)


def _reference_motion(models: SadTalkerModels, detector: LandmarkDetector, path: Path, mode: str, frames: int,
                      progress: Progress, crop_landmarks: str) -> Motion:
    """The 3DMM motion of a reference video's first ``frames`` frames (later ones would be cut anyway)."""
    total = min(frames, round(probe_video(path).duration * DEFAULT_AUDIO.fps))
    with progress.bar(f"reference {path.name}", total) as bar:
        return video_motion(models, itertools.islice(iter_frames(path, DEFAULT_AUDIO.fps), frames), mode, detector,
                            on_frame=lambda done: bar.update(done - bar.n), name=str(path),
                            crop_landmarks=crop_landmarks)


def run_generate(args: argparse.Namespace) -> Clip:
    """Everything ``generate`` / ``demo`` do, cheapest checks first: settings, the output folder,
    the picture and the audio, then models, face, motion and the render."""
    progress = Progress(args.quiet)
    _check_settings(args)
    device = _device(args.device)
    precision = resolve(args.precision, device)
    check_writable(args.out)
    image = read_image(args.image)
    audio = _read_audio(args.audio, args.max_seconds)
    enhancer: FaceEnhancer | None = None
    if args.enhancer is not None:
        enhancer = load_face_enhancer(_enhancer_path(args.enhancer, args.checkpoints), device, precision)

    progress.say(f"loading the {args.size} px models from {args.checkpoints}")
    models = load_models(args.checkpoints, args.size, device, RenderSpeed(precision))
    detector = models.detector()
    progress.say(f"3DMM extraction of {args.image}")
    source = extract_source(image, models.recon, args.preprocess, args.size, detector,
                            face_index=args.face_index, name=str(args.image), crop_landmarks=args.crop_landmarks)

    if args.load_motion is not None:
        motion = load_motion(args.load_motion)
    else:
        references = {path: _reference_motion(models, detector, path, args.preprocess, audio.num_frames, progress,
                                              args.crop_landmarks)
                      for path in {args.ref_eyeblink, args.ref_pose} - {None}}
        motion = make_motion(models, source, audio, motion_options(args), reference=references.get(args.ref_eyeblink),
                             reference_pose=references.get(args.ref_pose))
    if args.save_motion is not None:
        save_motion(motion, args.save_motion)
        progress.say(f"motion saved to {args.save_motion}")

    with progress.bar("rendering", motion.num_frames) as bar:
        return generate(models, source, audio, args.out, motion, render_options=render_options(args),
                        enhancer=enhancer, on_frame=lambda done, total: bar.update(done - bar.n))


def _forward_download(argv: Sequence[str]) -> int:
    from .download import main

    return main(list(argv))


def _forward_conformance(argv: Sequence[str]) -> int:
    from .conformance import main

    return main(list(argv))


FORWARDED: dict[str, Callable[[Sequence[str]], int]] = {
    "download": _forward_download,
    "conformance": _forward_conformance,
}
FORWARDED_HELP = {
    "download": "download the official model files into a folder (see: download --help)",
    "conformance": "compare with the reference goldens (see: conformance --help)",
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in FORWARDED:
        return FORWARDED[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    try:
        clip = run_generate(args)
    except SadTalkerError as err:  # a problem the user can fix; anything else is a bug: traceback
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    width, height = clip.size
    print(f"{clip.path}: {clip.num_frames} frames, {width}x{height}")
    return 0
