"""The commands' arguments: ``generate``, ``generate-batch`` and ``demo`` options with the official
``inference.py`` names (both ``--pose-style`` and ``--pose_style`` spellings work), and what can be
checked before anything loads.

Only the standard library and the core's configuration are imported here, so that ``--help`` and a
bad argument answer at once.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..config import MAX_FPS, VIDEO_FPS, PoseVAEConfig, ReferenceFrames
from ..errors import EnhancerError, InputError, SadTalkerError, SettingError
from ..official_files import ENHANCER_ALIASES, OFFICIAL_FILES, RENDER_SIZES, FolderKind
from .arguments import Parser, int_range, number
from .manifest import MANIFEST_SUFFIXES, Shard

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEMO_IMAGE = ASSETS / "portrait.png"
DEMO_AUDIO = ASSETS / "speech.wav"
# The choices are spelled here so that --help needs none of the stages' modules; a test keeps them
# equal to the library's enums (PreprocessMode, BlinkMode, PasteMethod, Precision, motion file suffixes, ...).
PREPROCESS_MODES = ("crop", "extcrop", "resize", "full", "extfull")
BLINK_MODES = ("random", "off")
PASTE_METHODS = ("feather", "seamless")  # the first is the default
ENHANCE_MODES = ("official", "crop")  # the first is the default
PRECISIONS = ("auto", "exact", "fast")
CROP_LANDMARKS = ("detect", "mapped")  # the first is the default
FACE_ORDERS = ("score", "largest")  # the first is the default
LENGTH_POLICIES = ("pingpong", "loop", "cut")  # motion.length.LengthPolicy; the first is the default
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")
MOTION_SUFFIXES = (".safetensors", ".npz", ".mat")
#: the motion options' defaults (MotionOptions()): --load-motion refuses any other value
MOTION_DEFAULTS = {"pose_style": 0, "blink": "random", "seed": None, "head_motion_scale": 1.0}
#: the official PoseVAE's style count, for the help text (make_pose checks the loaded PoseVAE's)
POSE_STYLES = PoseVAEConfig().num_classes
#: ``--ray`` with no address: start a Ray cluster on this machine (Ray's own name for it)
RAY_LOCAL = "local"
#: options that choose what a process loads: set once for a whole batch, not per manifest row
PROCESS_OPTIONS = ("checkpoints", "size", "device", "precision", "enhancer", "enhance_mode", "background_enhancer",
                   "enhancer_strength", "quiet")


def _video_file(text: str) -> Path:
    """An argparse type: the name of a video to write (.mp4, .mov or .mkv)."""
    if Path(text).suffix.lower() not in VIDEO_SUFFIXES:
        raise argparse.ArgumentTypeError(f"expected a video file name ending in {', '.join(VIDEO_SUFFIXES[:-1])} or "
                                         f"{VIDEO_SUFFIXES[-1]}, got '{text}'")
    return Path(text)


def _device_name(text: str) -> str:
    if not re.fullmatch(r"auto|cpu|mps|(cuda|xpu)(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N, xpu, xpu:N or mps, got '{text}'")
    return text


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _ray_address(text: str) -> str:
    """An argparse type: a Ray cluster's address; a manifest's name here means it came after ``--ray``."""
    if Path(text).suffix.lower() in MANIFEST_SUFFIXES:
        raise argparse.ArgumentTypeError(f"'{text}' is a manifest, not a Ray address; write the manifest before "
                                         "--ray, or give --ray auto / --ray HOST:PORT")
    return text


def _batch_size_option(parser: argparse.ArgumentParser, *aliases: str) -> None:
    """``--batch-size``, as generate and dub take it."""
    parser.add_argument("--batch-size", *aliases, type=int_range(0), default=0, metavar="N",
                        help="frames per render step: on a GPU the generator renders them at once (larger is faster, "
                             "needs more memory); on the CPU it renders them one by one, as fast; 0: as many as fit "
                             "the GPU's free memory (1 on the CPU) (default 0)")


def _run_options(parser: argparse.ArgumentParser) -> None:
    """How much of the speech, on which device, in which precision, how quietly: every command that renders."""
    parser.add_argument("--max-seconds", type=number(positive=True), default=None, metavar="S",
                        help="use only the first S seconds of the audio (a quick preview)")
    parser.add_argument("--device", type=_device_name, default="auto",
                        help="auto (a CUDA, Intel xpu or Apple mps GPU when there is one, else cpu), cpu, cuda, "
                             "cuda:N, xpu, xpu:N or mps")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="exact: float32, the official numbers; fast: the reduced precision the device computes "
                             "natively (bfloat16 on recent GPUs and CPUs with AVX512-BF16 / AMX, float16 on older "
                             "GPUs, float16 on Apple GPUs), about 2-3x faster renders; auto: fast on a GPU, exact on the CPU "
                             "(default)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or status lines")


def _options(parser: argparse.ArgumentParser) -> None:
    """The options ``generate``, ``demo`` and ``generate-batch`` share."""
    parser.add_argument("--checkpoints", "--checkpoint_dir", type=Path, required=True, metavar="DIR",
                        help="folder with the official model files (python -m sadtalker_core download DIR)")
    parser.add_argument("--preprocess", choices=PREPROCESS_MODES, default="crop",
                        help="crop: the face only; extcrop: a wider crop; resize: the whole picture (already a "
                             "portrait); full / extfull: the face pasted back into the whole picture (default crop)")
    parser.add_argument("--still", action="store_true", help="keep the source's head pose (less head motion)")
    parser.add_argument("--size", type=int, choices=RENDER_SIZES, default=256, help="render size (default 256)")
    parser.add_argument("--pose-style", "--pose_style", type=int_range(0), default=MOTION_DEFAULTS["pose_style"],
                        metavar="N", help=f"head-motion style, one of the loaded PoseVAE's: 0..{POSE_STYLES - 1} with "
                                          "the official files, more with one trained on a wider style table (default 0)")
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
                        help="which face to animate when the picture has several, counted in --face-order "
                             "(default 0: the first)")
    parser.add_argument("--face-order", choices=FACE_ORDERS, default=FACE_ORDERS[0],
                        help="the order --face-index counts faces in: score (the detector's most confident first, "
                             f"as the official code) or largest (the largest first) (default {FACE_ORDERS[0]})")
    parser.add_argument("--crop-landmarks", choices=CROP_LANDMARKS, default="detect",
                        help="detect: find the face again on the crop, as the official code does; mapped: reuse the "
                             "picture's landmarks, one detection fewer (faster, not the official numbers) "
                             "(default detect)")
    parser.add_argument("--fps", type=int_range(1, MAX_FPS), default=VIDEO_FPS, metavar="N",
                        help=f"frame rate of the video, 1..{MAX_FPS}: the motion (made at the official 25 fps, one "
                             f"frame per 40 ms of speech) is resampled to it, the clip keeps its length "
                             f"(default {VIDEO_FPS})")
    _batch_size_option(parser, "--batch_size")
    parser.add_argument("--ref-eyeblink", "--ref_eyeblink", type=Path, default=None, metavar="VIDEO",
                        help="a talking-face video whose eye blinks are copied")
    parser.add_argument("--ref-pose", "--ref_pose", type=Path, default=None, metavar="VIDEO",
                        help="a talking-face video whose head motion is copied")
    parser.add_argument("--reference-frames", choices=[mode.value for mode in ReferenceFrames],
                        default=ReferenceFrames.ONE_TO_ONE.value,
                        help="how a reference video's frames become 25 fps motion frames: one-to-one (each frame one "
                             "motion frame whatever the video's rate, as the official code) or resample (to 25 fps, "
                             "keeping the video's timing) (default one-to-one)")
    for axis in ("yaw", "pitch", "roll"):
        parser.add_argument(f"--input-{axis}", f"--input_{axis}", type=number(), nargs="+", default=None,
                            metavar="DEG", help=f"free-view {axis} keyframes in degrees, spread over the clip")
    parser.add_argument("--enhancer", default=None, metavar="FILE",
                        help="face enhancer: a GFPGAN / RestoreFormer / CodeFormer file, or "
                             f"{', '.join(ENHANCER_ALIASES)} for that file in the model folder or in "
                             f"../{FolderKind.FACE_RESTORE.value} beside it (ComfyUI's "
                             f"models/{FolderKind.FACE_RESTORE.value})")
    parser.add_argument("--enhancer-strength", type=number(0, 1), default=1.0, metavar="X",
                        help="blend of the enhanced face, 0..1 (default 1)")
    parser.add_argument("--enhance-mode", choices=ENHANCE_MODES, default=ENHANCE_MODES[0],
                        help="official: restore every face of the finished frames (after paste-back), video twice "
                             "the size, as the official --enhancer (needs detection_Resnet50_Final.pth, and "
                             "parsing_parsenet.pth for the official paste mask, in the model folder or "
                             "../facedetection); crop: restore the rendered face crop before paste-back, same size, "
                             f"faster (default {ENHANCE_MODES[0]})")
    parser.add_argument("--background-enhancer", type=Path, default=None, metavar="FILE",
                        help="official mode: upscale the background with this 2x model (RealESRGAN_x2plus.pth) "
                             "instead of Lanczos, as the official --background_enhancer realesrgan")
    parser.add_argument("--paste", choices=PASTE_METHODS, default=PASTE_METHODS[0],
                        help="how full / extfull put the face back: seamless (the official Poisson blend) or "
                             f"feather (a soft edge, faster) (default {PASTE_METHODS[0]})")
    parser.add_argument("--save-motion", type=Path, default=None, metavar="FILE",
                        help="also save the generated motion (.safetensors, .npz or official .mat)")
    parser.add_argument("--load-motion", type=Path, default=None, metavar="FILE",
                        help="use a saved motion instead of generating one from the audio")
    _run_options(parser)


def clip_arguments(parser: argparse.ArgumentParser) -> None:
    """``generate``'s arguments: the picture, the speech, the video, and the options."""
    parser.add_argument("--image", "--source_image", type=Path, required=True, help="the portrait (PNG, JPEG, ...)")
    parser.add_argument("--audio", "--driven_audio", type=Path, required=True, help="the speech (WAV, FLAC, MP3, ...)")
    parser.add_argument("--out", type=_video_file, required=True, help="the video to write (.mp4, .mov or .mkv)")
    _options(parser)


def dub_arguments(parser: argparse.ArgumentParser) -> None:
    """``dub``'s arguments: the video, the speech, the output, and what applies to a dub."""
    parser.add_argument("--video", type=Path, required=True, help="the talking video to dub (mp4, mov, mkv, ...)")
    parser.add_argument("--audio", type=Path, required=True, help="the new speech (WAV, FLAC, MP3, ...)")
    parser.add_argument("--out", type=_video_file, required=True, help="the video to write (.mp4, .mov or .mkv)")
    parser.add_argument("--checkpoints", "--checkpoint_dir", type=Path, required=True, metavar="DIR",
                        help="folder with the official model files (python -m sadtalker_core download DIR)")
    parser.add_argument("--length", choices=LENGTH_POLICIES, default=LENGTH_POLICIES[0],
                        help="speech longer than the video: pingpong (forward then backward, no jump), loop, or cut "
                             "(stop with the video) (default pingpong)")
    parser.add_argument("--preprocess", choices=("full", "extfull"), default="full",
                        help="the crop pasted back into every frame: full (the face) or extfull (wider) (default full)")
    parser.add_argument("--paste", choices=PASTE_METHODS, default=PASTE_METHODS[0],
                        help=f"feather (a soft edge) or seamless (the official Poisson blend) (default {PASTE_METHODS[0]})")
    parser.add_argument("--size", type=int, choices=RENDER_SIZES, default=256, help="render size (default 256)")
    parser.add_argument("--expression-scale", type=number(), default=1.0, metavar="X",
                        help="scale of the speech's expression (default 1)")
    parser.add_argument("--face-index", type=int_range(0), default=None, metavar="I",
                        help="which face to follow when there are several, counted in --face-order (default 0)")
    parser.add_argument("--face-order", choices=FACE_ORDERS, default=FACE_ORDERS[0],
                        help="score (the most confident first, as official) or largest (default score)")
    parser.add_argument("--crop-landmarks", choices=CROP_LANDMARKS, default="detect",
                        help="detect: find the face again on each crop, as the official code; mapped: faster "
                             "(default detect)")
    _batch_size_option(parser)
    _run_options(parser)


def prog() -> str:
    """How the user called us: ``sadtalker`` (the installed command) or ``python -m sadtalker_core``."""
    return "sadtalker" if Path(sys.argv[0]).stem == "sadtalker" else "python -m sadtalker_core"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog(),
        description="SadTalker: one portrait + speech -> a talking-head video.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    gen = commands.add_parser("generate", help="render a picture talking with an audio file",
                              description="Render a picture talking with an audio file (mp4, 25 fps unless --fps, with the audio).")
    clip_arguments(gen)
    batch = commands.add_parser(
        "generate-batch", help="render every clip of a manifest (CSV or JSONL), resumable, split over processes",
        description="Render every row of a manifest (CSV with a header, or JSONL: image, audio, output, and any "
                    "per-clip option such as pose_style, still, max_seconds). The models load once; rows whose "
                    "output is already a complete video are skipped; a failed row is reported at the end and "
                    "never stops the others. The options below apply to every row that does not set its own. "
                    "A row may give video instead of image (a talking video to dub, as the dub command does): its "
                    "columns are dub's options (length, preprocess full or extfull, paste, ...; dub's defaults "
                    "otherwise), and of the options below it takes only --checkpoints, --size, --device, "
                    "--precision, --max-seconds and --quiet.")
    batch.add_argument("manifest", type=Path, help="the manifest (.csv, .jsonl); relative paths in it are relative "
                                                   "to its folder")
    batch.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                       help="take rows K, K+N, K+2N, ... (K from 0): N processes or machines split the manifest with "
                            "no coordination (default: RANK/WORLD_SIZE when started by torchrun, else all rows)")
    batch.add_argument("--ray", nargs="?", const=RAY_LOCAL, default=None, type=_ray_address, metavar="ADDRESS",
                       help="hand the rows out to the workers of a Ray cluster (pip install ray): one per GPU, or per "
                            "--ray-cpus-per-worker CPUs without GPUs, each loading the models once; a failed row is "
                            "tried once more. No ADDRESS: a cluster on this machine; auto or HOST:PORT: a running "
                            "cluster (ray start), whose nodes see the same files")
    batch.add_argument("--ray-cpus-per-worker", type=int_range(1), default=None, metavar="N",
                       help="CPUs (and torch threads) of each Ray worker: without GPUs one worker per N CPUs of a node "
                            "(default 2); with GPUs each GPU's worker (default: the node's CPUs shared among its GPUs)")
    _options(batch)
    demo = commands.add_parser("demo", help="render the bundled portrait and sentence",
                               description="Render the bundled portrait saying the bundled sentence.")
    demo.add_argument("--out", type=_video_file, default=Path("demo.mp4"),
                      help="the video to write (default demo.mp4)")
    demo.set_defaults(image=DEMO_IMAGE, audio=DEMO_AUDIO)
    _options(demo)
    dub = commands.add_parser("dub", help="dub a talking video with new speech",
                              description="The same video, every frame of it, with the mouth following new speech; "
                                          "head motion, blinks and everything outside the face stay the video's own. "
                                          "At the video's frame rate; the output lasts as long as the speech.")
    dub_arguments(dub)
    for name, text in FORWARDED_HELP.items():
        commands.add_parser(name, help=text, add_help=False)
    return parser


FORWARDED_HELP = {
    "download": "download the official model files into a folder (see: download --help)",
}


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
    if args.background_enhancer is not None:
        if args.enhancer is None or args.enhance_mode != "official":
            raise SettingError("--background-enhancer upscales the frames the official face enhancement restores; "
                               "give --enhancer too (with --enhance-mode official) or drop it")
        _existing_file(args.background_enhancer, "background enhancer file", "--background-enhancer", EnhancerError)


def enhancer_file(name: str, checkpoints: Path) -> Path:
    """The file ``--enhancer`` names: a path to a file, or ``gfpgan`` / ``restoreformer`` /
    ``codeformer`` (or a bare file name) for that file in the model folder or in the face
    enhancers' folder beside it (ComfyUI's layout: ``models/facerestore_models`` next to
    ``models/sadtalker``; the registry's :class:`FolderKind` names it)."""
    given = Path(name)
    file = ENHANCER_ALIASES.get(name.lower())
    if file is None and (given.is_file() or len(given.parts) > 1):
        _existing_file(given, "face enhancer file", "--enhancer", EnhancerError)
        return given
    file = file or name
    kind = OFFICIAL_FILES[file].folder if file in OFFICIAL_FILES else FolderKind.FACE_RESTORE
    folders = (checkpoints, checkpoints.parent / kind.value)
    for folder in folders:
        if (folder / file).is_file():
            return folder / file
    raise EnhancerError(
        f"--enhancer {name}: {file} not found in {folders[0]} nor in {folders[1]}; download it there "
        f"({prog()} download {folders[0]} --only {file}) or give the file's path"
    )


