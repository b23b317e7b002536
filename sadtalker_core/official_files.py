"""The one registry of the official model files: name, release URL, size, sha256, the folder kind
each goes to and what it is for.

The downloader (command line and ComfyUI node), the enhancer names of ``--enhancer``, the nodes'
tooltips and the README's table of model files all read it.  Sizes and hashes are those public
manifests list for these exact release assets (VGG-19's hash begins with the 8 digits torchvision
puts in its file name).  Pins that are missing, and why:

* no published sha256 for the SadTalker files (both MappingNets, both bundles, face-vid2vid,
  Wav2Lip) nor for the alignment net: the downloader records the first download's hash and checks
  every later run against it (see :mod:`sadtalker_core.io.download`);
* no size either for ``RestoreFormer.pth``, ``facevid2vid_00189-model.pth.tar`` and ``wav2lip.pth``:
  no manifest lists them and this registry was written without network access to read them off
  the release pages, so they are left unpinned rather than guessed.  Their transfers are still
  checked against the server's Content-Length (a server without one is refused) and recorded.

Only the standard library is imported here: the command line reads it before anything heavy loads.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

_SADTALKER = "https://github.com/OpenTalker/SadTalker/releases/download/v0.0.2-rc/"
_SADTALKER_V002 = "https://github.com/OpenTalker/SadTalker/releases/download/v0.0.2/"
_FACEXLIB = "https://github.com/xinntao/facexlib/releases/download/v0.1.0/"
_FACEXLIB_V022 = "https://github.com/xinntao/facexlib/releases/download/v0.2.2/"
_REAL_ESRGAN = "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.1/"
_GFPGAN = "https://github.com/TencentARC/GFPGAN/releases/download/"

#: the render sizes of the official network bundles
RENDER_SIZES = (256, 512)
#: what a model file may end in (the face enhancers; ComfyUI's model lists)
MODEL_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")
MAPPING_FACE = "mapping_00229-model.pth.tar"  # crop, extcrop, resize
MAPPING_STILL = "mapping_00109-model.pth.tar"  # full, extfull
DETECTOR_FILES = ("detection_Resnet50_Final.pth", "alignment_WFLW_4HG.pth")
#: the face parser of the official enhancement (its paste mask) and the background upsampler
PARSER_FILE = "parsing_parsenet.pth"
BACKGROUND_FILE = "RealESRGAN_x2plus.pth"


class FolderKind(str, Enum):
    """Which kind of model folder a file belongs in.  The values are the folder names of ComfyUI's
    model layout (``models/<kind>``); the command line looks for a face enhancer in its model folder
    and in the folder of this kind beside it."""

    SADTALKER = "sadtalker"
    FACE_DETECTION = "facedetection"
    FACE_RESTORE = "facerestore_models"
    UPSCALE = "upscale_models"


@dataclass(frozen=True)
class ModelFile:
    """One downloadable file.  ``size`` (bytes) and ``sha256`` are None where not published;
    ``default`` files are fetched by a plain ``download``, the others only when asked for;
    ``training`` files are those ``download --training`` fetches for the trainers (``training/``).
    ``alias``: the official ``--enhancer`` name of a face enhancer.  ``holds`` and ``needed_for``
    say what it is for (the README's table)."""

    name: str
    url: str
    size: int | None = None
    sha256: str | None = None
    folder: FolderKind = FolderKind.SADTALKER
    default: bool = True
    training: bool = False
    alias: str | None = None
    holds: str = ""
    needed_for: str = ""


def bundle_name(size: int) -> str:
    """The official network bundle of render size ``size``."""
    return f"SadTalker_V0.0.2_{size}.safetensors"


OFFICIAL_FILES: dict[str, ModelFile] = {
    spec.name: spec
    for spec in (
        ModelFile(MAPPING_STILL, _SADTALKER + MAPPING_STILL, 155_779_231,
                  holds="MappingNet (still variant)", needed_for="preprocess `full`, `extfull`"),
        ModelFile(MAPPING_FACE, _SADTALKER + MAPPING_FACE, 155_521_183,
                  holds="MappingNet", needed_for="preprocess `crop`, `extcrop`, `resize`"),
        ModelFile(bundle_name(256), _SADTALKER + bundle_name(256), 725_066_984, training=True,
                  holds="3DMM regressor, ExpNet, PoseVAE, keypoint detector, generator",
                  needed_for="256 px renders (default)"),
        ModelFile(bundle_name(512), _SADTALKER + bundle_name(512), 725_066_984,
                  holds="the same, trained at 512 px", needed_for="`--size 512`"),
        ModelFile(DETECTOR_FILES[0], _FACEXLIB + DETECTOR_FILES[0], 109_497_761,
                  "6d1de9c2944f2ccddca5f5e010ea5ae64a39845a86311af6fdf30841b0a5a16d", FolderKind.FACE_DETECTION,
                  holds="RetinaFace (facexlib)",
                  needed_for="the official face detector, with the next; without them dlib's detector is used"),
        ModelFile(DETECTOR_FILES[1], _FACEXLIB + DETECTOR_FILES[1], 193_670_248, folder=FolderKind.FACE_DETECTION,
                  holds="AWing FAN landmarks (facexlib)", needed_for="the official face detector, with the previous"),
        ModelFile("GFPGANv1.4.pth", _GFPGAN + "v1.3.0/GFPGANv1.4.pth", 348_632_874,
                  "e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad", FolderKind.FACE_RESTORE,
                  alias="gfpgan", holds="GFPGAN face restoration", needed_for="`--enhancer gfpgan`, Face enhance"),
        ModelFile("RestoreFormer.pth", _GFPGAN + "v1.3.4/RestoreFormer.pth", folder=FolderKind.FACE_RESTORE,
                  default=False, alias="restoreformer", holds="RestoreFormer face restoration (optional)",
                  needed_for="`--enhancer restoreformer`, Face enhance"),
        ModelFile("codeformer.pth", "https://github.com/sczhou/CodeFormer/releases/download/v0.1.0/codeformer.pth",
                  376_637_898, "1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7",
                  FolderKind.FACE_RESTORE, default=False, alias="codeformer",
                  holds="CodeFormer face restoration (optional; spandrel_extra_arches)",
                  needed_for="`--enhancer codeformer`, Face enhance"),
        ModelFile(PARSER_FILE, _FACEXLIB_V022 + PARSER_FILE, folder=FolderKind.FACE_DETECTION, default=False,
                  holds="ParseNet face parser (facexlib)",
                  needed_for="`--enhancer` in official mode (the paste mask; without it a square mask)"),
        ModelFile(BACKGROUND_FILE, _REAL_ESRGAN + BACKGROUND_FILE, folder=FolderKind.UPSCALE, default=False,
                  holds="Real-ESRGAN 2x background upsampler (optional)", needed_for="`--background-enhancer`"),
        ModelFile("facevid2vid_00189-model.pth.tar", _SADTALKER_V002 + "facevid2vid_00189-model.pth.tar",
                  default=False, training=True, holds="face-vid2vid with its head-pose estimator",
                  needed_for="training MappingNet (the frozen renderer)"),
        ModelFile("wav2lip.pth", _SADTALKER_V002 + "wav2lip.pth", default=False, training=True, holds="Wav2Lip",
                  needed_for="training ExpNet (the lip teacher) and PoseVAE (the audio encoder)"),
        ModelFile("vgg19-dcbb9e9d.pth", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", 574_673_361,
                  "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44", default=False,
                  training=True, holds="VGG-19 (torchvision)",
                  needed_for="training face-vid2vid and MappingNet (the perceptual loss)"),
    )
}
#: the face enhancers' file names by their official ``--enhancer`` names
ENHANCER_ALIASES = {spec.alias: spec.name for spec in OFFICIAL_FILES.values() if spec.alias}


def files_of(kind: FolderKind) -> list[ModelFile]:
    """The official files that go in a folder of ``kind``."""
    return [spec for spec in OFFICIAL_FILES.values() if spec.folder is kind]


def sadtalker_files(sizes: Iterable[int]) -> list[str]:
    """The official files renders of ``sizes`` need: each size's bundle and both MappingNets."""
    return [*(bundle_name(size) for size in sizes), MAPPING_FACE, MAPPING_STILL]


def gigabytes(names: Iterable[str]) -> str:
    """The download size of ``names`` as the releases list it, e.g. '1.0 GB'."""
    return f"{sum(OFFICIAL_FILES[name].size or 0 for name in names) / 1e9:.1f} GB"


def markdown_table(files: Iterable[ModelFile]) -> str:
    """A Markdown table of ``files`` (name, size, folder kind, what it holds, what needs it): the
    README's, so that it is the registry's."""
    lines = ["| file | size | folder | holds | needed for |", "|---|---|---|---|---|"]
    for spec in files:
        size = f"{spec.size / 1e6:.0f} MB" if spec.size else "not published"
        lines.append(f"| `{spec.name}` | {size} | `{spec.folder.value}` | {spec.holds} | {spec.needed_for} |")
    return "\n".join(lines)
