"""Command line: ``sadtalker generate | generate-batch | demo | download | conformance`` (also
``python -m sadtalker_core ...``).

Argument parsing and progress bars only; every step is a call into the library.  Options keep
the official ``inference.py`` names (both ``--pose-style`` and ``--pose_style`` spellings work).
Arguments are parsed and checked before anything heavy is imported (torch, the media libraries,
the networks), so ``--help`` and a bad argument answer at once.  A problem with the inputs (a
picture without a face, empty audio, a damaged model file, an output folder that cannot be
written, ...) prints one ``error:`` line and exits with status 2; SIGTERM and SIGHUP stop as
Ctrl-C does, leaving no unfinished video behind.
"""
from __future__ import annotations

import argparse
import copy
import itertools
import os
import re
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .arguments import EXIT_BAD_INPUT, ArgumentsError, Parser, int_range, number
from .batch import BatchReport, Manifest, ManifestError, ManifestRow, Shard, is_complete_video, read_manifest
from .config import PoseVAEConfig
from .errors import EnhancerError, InputError, SadTalkerError, SettingError

if TYPE_CHECKING:
    import numpy as np
    import torch
    from tqdm import tqdm

    from .models import SadTalkerModels
    from .motion.audio import AudioFeatures
    from .motion.sequences import Motion
    from .pipeline import Clip, MotionOptions, RenderOptions
    from .post.enhance import FaceEnhancer
    from .precision import Precision
    from .source.landmarks import LandmarkDetector

ASSETS = Path(__file__).resolve().parent / "assets"
DEMO_IMAGE = ASSETS / "portrait.png"
DEMO_AUDIO = ASSETS / "speech.wav"
#: official ``--enhancer`` names -> the file ``python -m sadtalker_core download`` puts in the model folder
ENHANCER_FILES = {"gfpgan": "GFPGANv1.4.pth", "restoreformer": "RestoreFormer.pth", "codeformer": "codeformer.pth"}
#: where ``--enhancer gfpgan`` also looks: ComfyUI's face-restoration folder beside the model folder
#: (``models/facerestore_models`` next to ``models/sadtalker``)
ENHANCER_FOLDER = "facerestore_models"
# The choices are spelled here so that --help needs none of the stages' modules; a test keeps them
# equal to the library's enums (PreprocessMode, BlinkMode, PasteMethod, Precision, RENDER_SIZES, ...).
PREPROCESS_MODES = ("crop", "extcrop", "resize", "full", "extfull")
BLINK_MODES = ("random", "off")
PASTE_METHODS = ("feather", "seamless")  # the first is the default
PRECISIONS = ("auto", "exact", "fast")
CROP_LANDMARKS = ("detect", "mapped")  # the first is the default
RENDER_SIZES = (256, 512)
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")
MOTION_SUFFIXES = (".safetensors", ".npz", ".mat")
#: the motion options' defaults (MotionOptions()): --load-motion refuses any other value
MOTION_DEFAULTS = {"pose_style": 0, "blink": "random", "seed": None, "head_motion_scale": 1.0}
POSE_STYLES = PoseVAEConfig().num_classes
#: options that choose what a process loads: set once for a whole batch, not per manifest row
PROCESS_OPTIONS = ("checkpoints", "size", "device", "precision", "enhancer", "quiet")


def _video_file(text: str) -> Path:
    """An argparse type: the name of a video to write (.mp4, .mov or .mkv)."""
    if Path(text).suffix.lower() not in VIDEO_SUFFIXES:
        raise argparse.ArgumentTypeError(f"expected a video file name ending in {', '.join(VIDEO_SUFFIXES[:-1])} or "
                                         f"{VIDEO_SUFFIXES[-1]}, got '{text}'")
    return Path(text)


def _device_name(text: str) -> str:
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got '{text}'")
    return text


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _options(parser: argparse.ArgumentParser) -> None:
    """The options ``generate``, ``demo`` and ``generate-batch`` share."""
    parser.add_argument("--checkpoints", "--checkpoint_dir", type=Path, required=True, metavar="DIR",
                        help="folder with the official model files (python -m sadtalker_core download DIR)")
    parser.add_argument("--preprocess", choices=PREPROCESS_MODES, default="crop",
                        help="crop: the face only; extcrop: a wider crop; resize: the whole picture (already a "
                             "portrait); full / extfull: the face pasted back into the whole picture (default crop)")
    parser.add_argument("--still", action="store_true", help="keep the source's head pose (less head motion)")
    parser.add_argument("--size", type=int, choices=RENDER_SIZES, default=256, help="render size (default 256)")
    parser.add_argument("--pose-style", "--pose_style", type=int_range(0, POSE_STYLES - 1),
                        default=MOTION_DEFAULTS["pose_style"], metavar="N",
                        help=f"head-motion style, 0..{POSE_STYLES - 1} (default 0)")
    parser.add_argument("--expression-scale", "--expression_scale", type=number(), default=1.0, metavar="X",
                        help="strength of the expression (default 1)")
    parser.add_argument("--head-motion-scale", type=number(at_least=0), default=MOTION_DEFAULTS["head_motion_scale"],
                        metavar="X",
                        help="strength of the head motion: 0 holds the first pose, >1 livelier (default 1)")
    parser.add_argument("--blink", choices=BLINK_MODES, default=MOTION_DEFAULTS["blink"],
                        help="random eye blinks, or none (default random)")
    parser.add_argument("--seed", type=int_range(0, 2**32 - 1), default=MOTION_DEFAULTS["seed"],
                        help="seed of the blinks and head motion (repeatable runs)")
    parser.add_argument("--face-index", type=int_range(0), default=None, metavar="I",
                        help="which face to animate when the picture has several, 0 = largest (default: the largest)")
    parser.add_argument("--crop-landmarks", choices=CROP_LANDMARKS, default="detect",
                        help="detect: find the face again on the crop, as the official code does; mapped: reuse the "
                             "picture's landmarks, one detection fewer (faster, not the official numbers) "
                             "(default detect)")
    parser.add_argument("--batch-size", "--batch_size", type=int_range(1), default=2, metavar="N",
                        help="frames rendered at once (default 2)")
    parser.add_argument("--ref-eyeblink", "--ref_eyeblink", type=Path, default=None, metavar="VIDEO",
                        help="a talking-face video whose eye blinks are copied")
    parser.add_argument("--ref-pose", "--ref_pose", type=Path, default=None, metavar="VIDEO",
                        help="a talking-face video whose head motion is copied")
    for axis in ("yaw", "pitch", "roll"):
        parser.add_argument(f"--input-{axis}", f"--input_{axis}", type=number(), nargs="+", default=None,
                            metavar="DEG", help=f"free-view {axis} keyframes in degrees, spread over the clip")
    parser.add_argument("--enhancer", default=None, metavar="FILE",
                        help="face enhancer: a GFPGAN / RestoreFormer / CodeFormer file, or gfpgan, restoreformer, "
                             "codeformer for that file in the model folder or in ../facerestore_models beside it "
                             "(ComfyUI's models/facerestore_models)")
    parser.add_argument("--enhancer-strength", type=number(0, 1), default=1.0, metavar="X",
                        help="blend of the enhanced face, 0..1 (default 1)")
    parser.add_argument("--paste", choices=PASTE_METHODS, default=PASTE_METHODS[0],
                        help="how full / extfull put the face back: seamless (the official Poisson blend) or "
                             f"feather (a soft edge, faster) (default {PASTE_METHODS[0]})")
    parser.add_argument("--save-motion", type=Path, default=None, metavar="FILE",
                        help="also save the generated motion (.safetensors, .npz or official .mat)")
    parser.add_argument("--load-motion", type=Path, default=None, metavar="FILE",
                        help="use a saved motion instead of generating one from the audio")
    parser.add_argument("--max-seconds", type=number(positive=True), default=None, metavar="S",
                        help="use only the first S seconds of the audio (a quick preview)")
    parser.add_argument("--device", type=_device_name, default="auto",
                        help="auto (CUDA when available), cpu, cuda or cuda:N")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="exact: float32, the official numbers; fast: the reduced precision the device computes "
                             "natively (bfloat16 on recent GPUs and CPUs with AVX512-BF16 / AMX, float16 on older "
                             "GPUs), about 2-3x faster renders; auto: fast on a CUDA GPU, exact elsewhere (default)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or status lines")


def _clip_arguments(parser: argparse.ArgumentParser) -> None:
    """``generate``'s arguments: the picture, the speech, the video, and the options."""
    parser.add_argument("--image", "--source_image", type=Path, required=True, help="the portrait (PNG, JPEG, ...)")
    parser.add_argument("--audio", "--driven_audio", type=Path, required=True, help="the speech (WAV, FLAC, MP3, ...)")
    parser.add_argument("--out", type=_video_file, required=True, help="the video to write (.mp4, .mov or .mkv)")
    _options(parser)


def _prog() -> str:
    """How the user called us: ``sadtalker`` (the installed command) or ``python -m sadtalker_core``."""
    return "sadtalker" if Path(sys.argv[0]).stem == "sadtalker" else "python -m sadtalker_core"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=_prog(),
        description="SadTalker: one portrait + speech -> a talking-head video.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    gen = commands.add_parser("generate", help="render a picture talking with an audio file",
                              description="Render a picture talking with an audio file (mp4, 25 fps, with the audio).")
    _clip_arguments(gen)
    batch = commands.add_parser(
        "generate-batch", help="render every clip of a manifest (CSV or JSONL), resumable, split over processes",
        description="Render every row of a manifest (CSV with a header, or JSONL: image, audio, output, and any "
                    "per-clip option such as pose_style, still, max_seconds). The models load once; rows whose "
                    "output is already a complete video are skipped; a failed row is reported at the end and "
                    "never stops the others. The options below apply to every row that does not set its own.")
    batch.add_argument("manifest", type=Path, help="the manifest (.csv, .jsonl); relative paths in it are relative "
                                                   "to its folder")
    batch.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                       help="take rows K, K+N, K+2N, ... (K from 0): N processes or machines split the manifest with "
                            "no coordination (default: RANK/WORLD_SIZE when started by torchrun, else all rows)")
    _options(batch)
    demo = commands.add_parser("demo", help="render the bundled portrait and sentence",
                               description="Render the bundled portrait saying the bundled sentence.")
    demo.add_argument("--out", type=_video_file, default=Path("demo.mp4"),
                      help="the video to write (default demo.mp4)")
    demo.set_defaults(image=DEMO_IMAGE, audio=DEMO_AUDIO)
    _options(demo)
    for name, text in FORWARDED_HELP.items():
        commands.add_parser(name, help=text, add_help=False)
    return parser


def _existing_file(path: Path | None, what: str, flag: str, error: type[SadTalkerError] = InputError) -> None:
    if path is not None and not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise error(f"the {what} {path} ({flag}) {problem}; check the path")


def check_arguments(args: argparse.Namespace) -> None:
    """What can be checked before anything loads: options that do not go together, input files that
    are not there, the enhancer file.  (Each argument's own range is checked by the parser.)"""
    if args.load_motion is not None:
        generated = {"--ref-eyeblink": args.ref_eyeblink, "--ref-pose": args.ref_pose}
        given = [flag for flag, value in generated.items() if value is not None]
        given += [f"--{name.replace('_', '-')}" for name, default in MOTION_DEFAULTS.items()
                  if getattr(args, name) != default]
        if given:
            raise SettingError(f"--load-motion uses the saved motion as it is; drop {', '.join(given)}")
    for path, flag in ((args.save_motion, "--save-motion"), (args.load_motion, "--load-motion")):
        if path is not None and path.suffix.lower() not in MOTION_SUFFIXES:
            raise SettingError(f"{flag} {path}: a motion file ends in {', '.join(MOTION_SUFFIXES)}")
    _existing_file(args.image, "picture", "--image")
    _existing_file(args.audio, "audio", "--audio")
    _existing_file(args.ref_eyeblink, "video", "--ref-eyeblink")
    _existing_file(args.ref_pose, "video", "--ref-pose")
    _existing_file(args.load_motion, "motion file", "--load-motion")
    if args.enhancer is not None:
        enhancer_file(args.enhancer, args.checkpoints)


def motion_options(args: argparse.Namespace) -> MotionOptions:
    from .pipeline import MotionOptions

    return MotionOptions(pose_style=args.pose_style, blink=args.blink, seed=args.seed,
                         head_motion_scale=args.head_motion_scale)


def render_options(args: argparse.Namespace) -> RenderOptions:
    from .pipeline import RenderOptions

    def keys(values: list[float] | None) -> tuple[float, ...] | None:
        return None if values is None else tuple(values)

    return RenderOptions(expression_scale=args.expression_scale, still=args.still, batch_size=args.batch_size,
                         yaw=keys(args.input_yaw), pitch=keys(args.input_pitch), roll=keys(args.input_roll),
                         paste=args.paste, enhancer_strength=args.enhancer_strength)


def _device(name: str, local_rank: int | None = None) -> torch.device:
    """The device ``--device`` names; ``auto`` is CUDA when there is one, and with several GPUs the
    one of this process's ``LOCAL_RANK`` (one GPU per process under torchrun)."""
    import torch

    if name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        count = torch.cuda.device_count()
        return torch.device("cuda", local_rank % count if local_rank is not None and count > 1 else 0)
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingError(f"--device {name}: this torch has no usable CUDA; use --device cpu")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise SettingError(f"--device {name}: there are {torch.cuda.device_count()} CUDA devices (cuda:0 ...)")
    return device


def _device_and_precision(args: argparse.Namespace, local_rank: int | None = None) -> tuple[torch.device, Precision]:
    from .precision import resolve

    device = _device(args.device, local_rank)
    return device, resolve(args.precision, device)


def enhancer_file(name: str, checkpoints: Path) -> Path:
    """The file ``--enhancer`` names: a path to a file, or ``gfpgan`` / ``restoreformer`` /
    ``codeformer`` (or a bare file name) for that file in the model folder or in ComfyUI's
    face-restoration folder beside it (``models/facerestore_models`` next to ``models/sadtalker``)."""
    given = Path(name)
    file = ENHANCER_FILES.get(name.lower())
    if file is None and (given.is_file() or len(given.parts) > 1):
        _existing_file(given, "face enhancer file", "--enhancer", EnhancerError)
        return given
    file = file or name
    folders = (checkpoints, checkpoints.parent / ENHANCER_FOLDER)
    for folder in folders:
        if (folder / file).is_file():
            return folder / file
    raise EnhancerError(
        f"--enhancer {name}: {file} not found in {folders[0]} nor in {folders[1]}; download it there "
        f"({_prog()} download {folders[0]} --only {file}) or give the file's path"
    )


def _read_audio(path: Path, max_seconds: float | None) -> AudioFeatures:
    from .motion.audio import DEFAULT_AUDIO, audio_features, load_wav

    wav = load_wav(path)
    if max_seconds is not None:
        wav = wav[:round(max_seconds * DEFAULT_AUDIO.sample_rate)]
    return audio_features(wav, source=str(path))


def _read_picture(path: Path) -> np.ndarray:
    """The picture, with what its decoder prints itself (libpng, libjpeg, OpenCV's log) made the
    detail of the error, or a warning when the picture was read all the same."""
    from .native_output import NativeStderr
    from .source.face import read_image

    decoder = NativeStderr()
    try:
        with decoder:
            image = read_image(path)
    except InputError as err:
        if decoder.last is None:
            raise
        raise InputError(f"{err}; the decoder said: {decoder.last}") from err
    if decoder.last is not None:
        warnings.warn(f"{path} may be damaged (the decoder said: {decoder.last}); check the picture", stacklevel=2)
    return image


class Progress:
    """Status lines and tqdm bars on stderr, or nothing when quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr)

    def bar(self, desc: str, total: int | None) -> tqdm:
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="frame", disable=self.quiet, file=sys.stderr, dynamic_ncols=True)


def _reference_motion(models: SadTalkerModels, detector: LandmarkDetector, path: Path, mode: str, frames: int,
                      progress: Progress, crop_landmarks: str) -> Motion:
    """The 3DMM motion of a reference video's first ``frames`` frames (later ones would be cut anyway)."""
    from .motion.audio import DEFAULT_AUDIO
    from .pipeline import video_motion
    from .post.video import iter_frames, probe_video

    total = min(frames, round(probe_video(path).duration * DEFAULT_AUDIO.fps))
    with progress.bar(f"reference {path.name}", total) as bar:
        return video_motion(models, itertools.islice(iter_frames(path, DEFAULT_AUDIO.fps), frames), mode, detector,
                            on_frame=lambda done: bar.update(done - bar.n), name=str(path),
                            crop_landmarks=crop_landmarks)


@dataclass(frozen=True)
class Engine:
    """What a process loads once and every clip uses: the networks, the face detector, the enhancer."""

    models: SadTalkerModels
    detector: LandmarkDetector
    enhancer: FaceEnhancer | None


def load_engine(args: argparse.Namespace, device: torch.device, precision: Precision, progress: Progress) -> Engine:
    from .models import load_models
    from .post.enhance import load_face_enhancer
    from .render.speed import RenderSpeed

    enhancer = None
    if args.enhancer is not None:
        enhancer = load_face_enhancer(enhancer_file(args.enhancer, args.checkpoints), device, precision)
    progress.say(f"loading the {args.size} px models from {args.checkpoints}")
    models = load_models(args.checkpoints, args.size, device, RenderSpeed(precision))
    return Engine(models, models.detector(), enhancer)


@dataclass(frozen=True)
class ClipInputs:
    """A clip's picture and speech, read before any model loads."""

    image: np.ndarray
    audio: AudioFeatures


def read_inputs(args: argparse.Namespace) -> ClipInputs:
    """The output checked writable, then the picture and the audio read."""
    from .post.video import check_writable

    check_writable(args.out)
    return ClipInputs(_read_picture(args.image), _read_audio(args.audio, args.max_seconds))


def render_clip(engine: Engine, args: argparse.Namespace, inputs: ClipInputs, progress: Progress) -> Clip:
    """Face, motion and the render of one clip with loaded models."""
    from .motion.files import load_motion, save_motion
    from .pipeline import generate, make_motion
    from .source.face import extract_source

    models, audio = engine.models, inputs.audio
    progress.say(f"3DMM extraction of {args.image}")
    source = extract_source(inputs.image, models.recon, args.preprocess, args.size, engine.detector,
                            face_index=args.face_index, name=str(args.image), crop_landmarks=args.crop_landmarks)

    if args.load_motion is not None:
        motion = load_motion(args.load_motion)
    else:
        references = {path: _reference_motion(models, engine.detector, path, args.preprocess, audio.num_frames,
                                               progress, args.crop_landmarks)
                      for path in {args.ref_eyeblink, args.ref_pose} - {None}}
        motion = make_motion(models, source, audio, motion_options(args), reference=references.get(args.ref_eyeblink),
                             reference_pose=references.get(args.ref_pose))
    if args.save_motion is not None:
        save_motion(motion, args.save_motion)
        progress.say(f"motion saved to {args.save_motion}")

    with progress.bar("rendering", motion.num_frames) as bar:
        return generate(models, source, audio, args.out, motion, render_options=render_options(args),
                        enhancer=engine.enhancer, on_frame=lambda done, total: bar.update(done - bar.n))


def run_generate(args: argparse.Namespace) -> Clip:
    """Everything ``generate`` / ``demo`` do, cheapest checks first: the arguments, the device, the
    output folder, the picture and the audio, then models, face, motion and the render."""
    progress = Progress(args.quiet)
    check_arguments(args)
    device, precision = _device_and_precision(args)
    inputs = read_inputs(args)
    return render_clip(load_engine(args, device, precision, progress), args, inputs, progress)


def _clip_line(clip: Clip) -> str:
    width, height = clip.size
    return f"{clip.path}: {clip.num_frames} frames, {width}x{height}"


# --- generate-batch -------------------------------------------------------------------------------


def _row_parser() -> tuple[Parser, dict[str, argparse.Action]]:
    """A parser of one manifest row's arguments (errors raised, not printed), and the options a row
    may set, by column name."""
    parser = Parser(prog="generate-batch", raise_errors=True, add_help=False)
    _clip_arguments(parser)
    fixed = {"image", "audio", "out", "help", *PROCESS_OPTIONS}
    return parser, {action.dest: action for action in parser._actions if action.dest not in fixed}


def _check_columns(manifest: Manifest, options: dict[str, argparse.Action]) -> None:
    """Refuse, before any row runs, a column no row could use (a typo would fail every row)."""
    for column in sorted(manifest.option_columns):
        name = column.replace("-", "_")
        if name in PROCESS_OPTIONS:
            raise ManifestError(f"{manifest.path}: the column '{column}' cannot change from row to row (it chooses "
                                f"what the process loads); give generate-batch --{name.replace('_', '-')} instead")
        if name not in options:
            raise ManifestError(f"{manifest.path}: unknown column '{column}'; a row has image, audio, output and any "
                                f"of: {', '.join(sorted(options))}")


def _flag(column: str, value: object) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ArgumentsError(f"column {column}: expected true or false, got '{value}'")


def row_arguments(args: argparse.Namespace, manifest: Manifest, row: ManifestRow) -> argparse.Namespace:
    """``generate``'s arguments for one row: the batch's options, overridden by the row's columns,
    parsed and range-checked by the same parser as the command line's."""
    parser, options = _row_parser()
    tokens = ["--image", str(row.image), "--audio", str(row.audio), "--out", str(row.output),
              "--checkpoints", str(args.checkpoints)]
    flags = {}
    for column, value in row.options.items():
        action = options[column.replace("-", "_")]
        option = action.option_strings[0]
        if action.nargs == 0:  # --still: true / false
            flags[action.dest] = _flag(column, value)
            continue
        items = value if isinstance(value, list) else re.split(r"[,\s]+", str(value).strip())
        if action.type is Path:
            items = [str(manifest.folder / str(item)) for item in items]
        tokens += [f"{option}={item}" for item in items] if action.nargs is None else [option, *map(str, items)]
    namespace = parser.parse_args(tokens, namespace=copy.copy(args))
    for dest, value in flags.items():
        setattr(namespace, dest, value)
    return namespace


def run_batch(args: argparse.Namespace) -> BatchReport:
    """``generate-batch``: every row of this process's shard that is not already done, each in turn,
    with the models loaded once (for the first row that needs them).  A failed row is recorded and
    the next one goes on; a problem with the models themselves ends the run."""
    progress = Progress(args.quiet)
    manifest = read_manifest(args.manifest)
    _check_columns(manifest, _row_parser()[1])
    shard = args.shard or Shard.from_environment(os.environ) or Shard()
    report = BatchReport(manifest.path, shard, len(shard.take(manifest.rows)))
    progress.say(f"{manifest.path}: {len(manifest.rows)} rows; this process takes {report.rows} (shard {shard})")

    def failed(row: ManifestRow, error: str) -> None:
        report.failed.append((row, error))
        print(f"error: line {row.line} ({row.output}): {error}", file=sys.stderr)

    pending = []
    for row in shard.take(manifest.rows):
        if is_complete_video(row.output):
            report.skipped.append(row)
            print(f"{row.output}: already complete, skipped")
            continue
        try:
            row_args = row_arguments(args, manifest, row)
            check_arguments(row_args)
        except SadTalkerError as err:
            failed(row, str(err))
            continue
        pending.append((row, row_args))

    engine: Engine | None = None
    for row, row_args in pending:
        try:
            inputs = read_inputs(row_args)
        except SadTalkerError as err:
            failed(row, str(err))
            continue
        if engine is None:
            local_rank = os.environ.get("LOCAL_RANK")
            device, precision = _device_and_precision(args, int(local_rank) if local_rank else None)
            engine = load_engine(args, device, precision, progress)
        try:
            clip = render_clip(engine, row_args, inputs, progress)
        except SadTalkerError as err:
            failed(row, str(err))
        except Exception as err:  # a bug, shown with its traceback; the other rows still run
            traceback.print_exc()
            failed(row, f"internal error ({type(err).__name__}: {err}); the traceback is above")
        else:
            report.rendered.append(row)
            print(_clip_line(clip))
    return report


# --- forwarded commands, main ---------------------------------------------------------------------


def _forward_download(argv: Sequence[str]) -> int:
    from .download import main

    return main(list(argv), prog=f"{_prog()} download")


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


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is so that it unwinds as for Ctrl-C: the
    unfinished video's temporary file is removed on the way out."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, frame) -> None:
    for name in ("SIGTERM", "SIGHUP"):  # a second signal must not cut the cleanup short
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    raise Stopped(signum)


class _StopOnSignals:
    """Within the block, SIGTERM and SIGHUP raise :class:`Stopped` (main thread only; restored after)."""

    def __enter__(self) -> None:
        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGTERM", "SIGHUP"):
                if hasattr(signal, name):
                    self.saved[name] = signal.signal(getattr(signal, name), _stop)

    def __exit__(self, *exc_info) -> None:
        for name, handler in self.saved.items():
            signal.signal(getattr(signal, name), handler)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    if args.command == "generate-batch":
        report = run_batch(args)
        print("\n".join(report.summary()), file=sys.stderr)
        return EXIT_BAD_INPUT if report.failed else 0
    print(_clip_line(run_generate(args)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in FORWARDED:
        return FORWARDED[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings(), _StopOnSignals():
        warnings.showwarning = _show_warning  # one line each, without the source line
        try:
            return _run(args)
        except SadTalkerError as err:  # a problem the user can fix; anything else is a bug: traceback
            print(f"error: {' '.join(str(err).splitlines())}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt as stop:
            signum = stop.signum if isinstance(stop, Stopped) else signal.SIGINT
            print(f"{'interrupted' if signum == signal.SIGINT else f'stopped by {stop}'}; "
                  "the unfinished video was not written", file=sys.stderr)
            return 128 + signum
