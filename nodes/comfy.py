"""The few ComfyUI services the nodes use, with stand-ins when ComfyUI is not installed (tests,
scripts): model folders, input / output / temp folders (and the example inputs put into the input
folder), the compute device and its memory, progress bars and the user's "cancel" button.

Inside ComfyUI, models are found through ``folder_paths`` (so ``extra_model_paths.yaml`` entries
work): official SadTalker files in ``models/sadtalker``, face restoration models in
``models/facerestore_models``, face detector weights in ``models/facedetection`` (or
``models/sadtalker``).  Without ComfyUI the same sub-folders are looked up under
``$SADTALKER_COMFY_ROOT`` (default: the plugin folder), with ``input`` and ``output`` beside
``models``.
"""
from __future__ import annotations

import logging
import os
import shutil
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..sadtalker_core.errors import CheckpointError, SettingError
from ..sadtalker_core.io.atomic import AtomicFile
from ..sadtalker_core.official_files import MODEL_SUFFIXES, FolderKind
from ..sadtalker_core.precision import default_device

try:
    import comfy.model_management as model_management
    import comfy.model_patcher as model_patcher
    import comfy.utils as comfy_utils
    import folder_paths
except ImportError:
    model_management = model_patcher = comfy_utils = folder_paths = None

log = logging.getLogger(__name__)

PLUGIN_ROOT = Path(__file__).resolve().parents[1]
#: the plugin's example inputs (sadtalker_core/assets) by the names they get in ComfyUI's input folder,
#: which the example workflows load
EXAMPLE_PORTRAIT, EXAMPLE_SPEECH = "sadtalker_portrait.png", "sadtalker_speech.wav"
EXAMPLE_INPUTS = {EXAMPLE_PORTRAIT: "portrait.png", EXAMPLE_SPEECH: "speech.wav"}
ASSETS = PLUGIN_ROOT / "sadtalker_core" / "assets"
#: model folder names, as ComfyUI's ``folder_paths`` knows them
#: ComfyUI's model folder names (models/<kind>): the registry's folder kinds
SADTALKER, FACE_RESTORE, FACE_DETECTION = (kind.value for kind in (FolderKind.SADTALKER, FolderKind.FACE_RESTORE,
                                                                   FolderKind.FACE_DETECTION))


def _local_root() -> Path:
    return Path(os.environ.get("SADTALKER_COMFY_ROOT", PLUGIN_ROOT))


def register_model_folders() -> None:
    """Make ComfyUI list ``models/sadtalker``, ``models/facerestore_models`` and ``models/facedetection``
    (kept when the user's ``extra_model_paths.yaml`` already names them)."""
    if folder_paths is None:
        return
    for kind in (SADTALKER, FACE_RESTORE, FACE_DETECTION):
        folder_paths.add_model_folder_path(kind, os.path.join(folder_paths.models_dir, kind))
        paths, suffixes = folder_paths.folder_names_and_paths[kind]
        folder_paths.folder_names_and_paths[kind] = (paths, set(suffixes) | set(MODEL_SUFFIXES))


def model_folders(kind: str) -> list[Path]:
    """Every folder where models of ``kind`` may be (ComfyUI's, or the local stand-in)."""
    if folder_paths is not None:
        return [Path(p) for p in folder_paths.get_folder_paths(kind)]
    return [_local_root() / "models" / kind]


def model_names(kind: str) -> list[str]:
    """File names (relative to their folder) of the models of ``kind``, sorted."""
    if folder_paths is not None:
        return sorted(folder_paths.get_filename_list(kind))
    names = {str(path.relative_to(folder)) for folder in model_folders(kind) if folder.is_dir()
             for path in folder.rglob("*") if path.suffix.lower() in MODEL_SUFFIXES}
    return sorted(names)


def file_within(name: str, folders: Sequence[Path]) -> Path | None:
    """The file ``name`` (relative to one of ``folders``, or absolute) with every ``..`` and symbolic
    link resolved, when it lies inside the folder it is found in; None when it is in none of them.  A
    name leading outside (``../output/x``, ``/etc/x``, a link out of the folder) is a
    :class:`SettingError`: a queued prompt may not make a node read files elsewhere."""
    outside = []
    for folder in folders:
        root = folder.resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root):
            outside.append(path)
        elif path.is_file():
            return path
    if outside and (len(outside) == len(folders) or any(path.exists() for path in outside)):
        listed = " or ".join(str(folder) for folder in folders)
        raise SettingError(f"'{name}' leads outside {listed}: only files in that folder can be loaded; put the "
                           "file there and pick it from the list")
    return None


def model_path(kind: str, name: str) -> Path:
    """The file of model ``name`` of ``kind`` (inside its folders, see :func:`file_within`); an error naming
    the folders when it is not there."""
    folders = model_folders(kind)
    path = file_within(name, folders)
    if path is None:
        raise CheckpointError(f"{name} is not in the {kind} model folder ({', '.join(str(f) for f in folders)}); "
                              "put the file there")
    return path


def input_dir() -> Path:
    return Path(folder_paths.get_input_directory()) if folder_paths is not None else _local_root() / "input"


def input_files(suffixes: tuple[str, ...]) -> list[str]:
    """Files in the input folder (sub-folders too) ending in one of ``suffixes``, relative to it, sorted."""
    folder = input_dir()
    if not folder.is_dir():
        return []
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.suffix.lower() in suffixes)


def install_example_inputs() -> list[Path]:
    """Copy the example portrait and speech into the input folder, so that the example workflows run
    as they open; a file already there under that name (the user's, or an earlier copy) is left
    alone.  A folder that cannot be written is logged, not raised: ComfyUI starts anyway."""
    folder, copied = input_dir(), []
    for name, asset in EXAMPLE_INPUTS.items():
        target = folder / name
        if target.exists():
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with AtomicFile(target, target.with_name(f".{name}.partial")) as file:
                shutil.copyfile(ASSETS / asset, file.partial)
        except OSError as err:
            log.warning("SadTalker: could not copy the example %s into %s (%s); the example workflows need it "
                        "there, or pick a file of yours in their Load Image / Load Audio nodes", asset, folder, err)
            continue
        copied.append(target)
    return copied


def output_dir() -> Path:
    return Path(folder_paths.get_output_directory()) if folder_paths is not None else _local_root() / "output"


def save_path(filename_prefix: str, suffix: str) -> Path:
    """A new file in the output folder for ``filename_prefix`` (which may hold sub-folders), numbered
    like ComfyUI's own saves: ``prefix_00001_.suffix``."""
    root = output_dir()
    if folder_paths is not None:
        folder, name, counter, _, _ = folder_paths.get_save_image_path(filename_prefix, str(root))
        folder = Path(folder)
    else:
        target = (root / filename_prefix).resolve()
        if root.resolve() not in target.parents:
            raise SettingError(f"filename_prefix '{filename_prefix}' points outside the output folder {root}")
        folder, name, counter = target.parent, target.name, 1
        while any(folder.glob(f"{name}_{counter:05}_.*")):
            counter += 1
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}_{counter:05}_{suffix}"


def temp_dir() -> Path:
    return Path(folder_paths.get_temp_directory()) if folder_paths is not None else _local_root() / "temp"


def preview_ui(picture: np.ndarray, prefix: str) -> dict:
    """What a node returns as ``ui`` to show an RGB uint8 ``picture`` on itself: a PNG in ComfyUI's
    temp folder (emptied at every start), as ComfyUI's own previews do."""
    folder = temp_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}.png"
    Image.fromarray(picture).save(folder / name, compress_level=1)
    return {"images": [{"filename": name, "subfolder": "", "type": "temp"}]}


def torch_device() -> torch.device:
    """ComfyUI's compute device (the GPU unless ComfyUI runs with --cpu); without ComfyUI, the library's default
    (:func:`~sadtalker_core.precision.default_device`: CUDA, XPU or MPS when there is one)."""
    if model_management is not None:
        return model_management.get_torch_device()
    return default_device()


def free_memory(num_bytes: int, device: torch.device) -> None:
    """Ask ComfyUI to unload its own models until ``num_bytes`` are free on ``device`` (a GPU)."""
    if model_management is not None and device.type != "cpu":
        model_management.free_memory(num_bytes, device)
        model_management.soft_empty_cache()


#: the ComfyUI model patcher of each managed loaded value, by ``id`` (dropped with the value)
_patchers: dict[int, object] = {}


def manage_models(value: object, networks: Mapping[str, nn.Module], device: torch.device) -> None:
    """Hand the ``networks`` of a loaded ``value`` (a model bundle, a face enhancer) to ComfyUI's
    model management, as ComfyUI does with its CLIP vision and VAE models: they move to ComfyUI's
    offload device (the CPU unless --highvram) and come back to ``device`` when
    :func:`load_on_device` asks for them, ComfyUI unloading its own models to make room.  Without
    ComfyUI nothing happens: the networks stay on ``device``."""
    if model_management is None:
        return
    offload = model_management.unet_offload_device() if device.type != "cpu" else device
    modules = nn.ModuleDict(dict(networks)).to(offload)
    _patchers[id(value)] = model_patcher.ModelPatcher(modules, load_device=device, offload_device=offload)
    weakref.finalize(value, _patchers.pop, id(value), None)


def load_on_device(*values: object) -> None:
    """Bring the networks of loaded ``values`` (given to :func:`manage_models`) onto their device,
    all of them (no partial loads: the library runs them whole); ComfyUI unloads other models as
    needed.  Values ComfyUI does not manage are left as they are."""
    patchers = [_patchers[id(value)] for value in values if id(value) in _patchers]
    if patchers and model_management is not None:
        model_management.load_models_gpu(patchers, force_full_load=True)


def check_interrupted() -> None:
    """Raise ComfyUI's interruption when the user pressed cancel (frame loops call this)."""
    if model_management is not None:
        model_management.throw_exception_if_processing_interrupted()


def progress_bar(total: int) -> Callable[[int], None]:
    """A progress bar of ``total`` steps in ComfyUI's UI: call the result with the steps done so far."""
    if comfy_utils is None:
        return lambda done: None
    bar = comfy_utils.ProgressBar(total)
    return lambda done: bar.update_absolute(done, total)
