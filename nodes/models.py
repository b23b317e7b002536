"""Loader nodes: the SadTalker networks (+ face detector) and a face restoration model.

Models load once: a loaded set is kept (the last two) and handed out again to any loader node
asking for the same files, device and detector, across runs and workflows.  Before loading onto
a GPU, ComfyUI is asked to make room (it unloads its own models as needed).  Inside ComfyUI a
loaded set is then handed to its model management (:func:`comfy.manage_models`): it waits on the
offload device and the nodes that run it bring it onto the GPU (:func:`comfy.load_on_device`), so
ComfyUI can unload it for its own models between runs.
"""
from __future__ import annotations

import functools
from pathlib import Path

import torch
from comfy_api.latest import io

from ..sadtalker_core.checkpoints import CheckpointError
from ..sadtalker_core.errors import SadTalkerError
from ..sadtalker_core.models import SadTalkerModels, find_model_files, load_models
from ..sadtalker_core.official_files import (
    ENHANCER_ALIASES,
    OFFICIAL_FILES,
    RENDER_SIZES,
    FolderKind,
    files_of,
    gigabytes,
    sadtalker_files,
)
from ..sadtalker_core.post import FaceEnhancer, load_face_enhancer
from ..sadtalker_core.render import GeneratorSettings
from ..sadtalker_core.source import DetectorChoice, find_detector_files
from . import comfy
from .types import Enhancer, Models, device_input, output, precision_input, schema

GFPGAN = OFFICIAL_FILES[ENHANCER_ALIASES["gfpgan"]]


def _device(choice: str) -> torch.device:
    return torch.device("cpu") if choice == "cpu" else comfy.torch_device()


def _model_folder(size: int) -> Path:
    """The first SadTalker model folder holding the official files for ``size``; else an error
    naming the folder, the missing files and the ways to get them."""
    folders = comfy.model_folders(comfy.SADTALKER)
    for folder in folders:
        try:
            find_model_files(folder, size)
            return folder
        except CheckpointError:
            pass
    needed = sadtalker_files((size,))
    missing = [name for name in needed if not any((folder / name).is_file() for folder in folders)] or needed
    raise CheckpointError(
        f"the SadTalker model files for size {size} are not in ComfyUI/models/sadtalker ({folders[0]}): missing "
        f"{', '.join(missing)}. To get them ({gigabytes(missing)}), add the node 'Download SadTalker models' "
        f"(SadTalker/loaders), set its size to {size} and run it once; or run 'python -m sadtalker_core download "
        f"{folders[0]}' in the plugin folder; or copy the files there")


def _detector_folders() -> tuple[Path, ...]:
    """Where the official face detector's files may be: models/facedetection, then the SadTalker folders."""
    return (*comfy.model_folders(comfy.FACE_DETECTION), *comfy.model_folders(comfy.SADTALKER))


@functools.lru_cache(maxsize=2)
def _load(folder: Path, size: int, device: torch.device, generator_settings: GeneratorSettings,
          detector: DetectorChoice, detector_folders: tuple[Path, ...],
          detector_files: tuple[Path, Path] | None) -> SadTalkerModels:
    """``detector_files``: the official detector's files found now (part of the cache key, so that
    files added later are loaded)."""
    files = find_model_files(folder, size)
    needed = {files.recon, files.expnet, files.posevae, files.render, *files.mappings.values(), *(detector_files or ())}
    comfy.free_memory(sum(path.stat().st_size for path in needed), device)
    models = load_models(folder, size, device, generator_settings, detector, detector_folders)
    comfy.manage_models(models, models.networks(), models.device)
    return models


class LoadSadTalkerModels(io.ComfyNode):
    """Loader node: SadTalker's networks for one render size, and a face detector."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerLoadModels", "Load SadTalker models", "loaders",
            "Loads the official SadTalker networks (3DMM extractor, ExpNet, PoseVAE, mappingNet, face-vid2vid) "
            "from ComfyUI/models/sadtalker, once: later runs reuse them. Needs SadTalker_V0.0.2_256.safetensors "
            "(or _512) and mapping_00229-model.pth.tar / mapping_00109-model.pth.tar there.",
            inputs=[
                io.Combo.Input("size", options=[str(s) for s in RENDER_SIZES], default="256", tooltip=(
                    "Render size of the face: 256 (faster) or 512 (sharper; needs SadTalker_V0.0.2_512.safetensors).")),
                device_input(),
                precision_input(
                    "Face renderer number format. exact: float32, the official frames; fast: bfloat16 / float16 "
                    "convolutions where the device computes them natively (about 2-3x faster, frames differ "
                    "slightly, PSNR > 35 dB; refused on CPUs without AVX512-BF16 / AMX); auto: fast on a GPU, "
                    "exact on the CPU."),
                io.Combo.Input("face_detector", options=DetectorChoice, default=DetectorChoice.AUTO, tooltip=(
                    "retinaface: the official RetinaFace + FAN files (detection_Resnet50_Final.pth, "
                    "alignment_WFLW_4HG.pth in models/facedetection or models/sadtalker); dlib: no download "
                    "needed; auto: retinaface when its files are there, else dlib.")),
            ],
            outputs=[output(Models, "models",
                            "The loaded SadTalker networks and face detector; connect to every SadTalker node.")],
        )

    @classmethod
    def execute(cls, size: str, device: str, precision: str, face_detector: str) -> io.NodeOutput:
        target, folders = _device(device), _detector_folders()
        return io.NodeOutput(_load(_model_folder(int(size)), int(size), target, GeneratorSettings(precision).on(target),
                                   DetectorChoice(face_detector), folders, find_detector_files(folders)))


#: the face enhancers the registry knows, for the messages
_ENHANCERS = [spec.name for spec in files_of(FolderKind.FACE_RESTORE)]
_ENHANCER_LIST = f"{', '.join(_ENHANCERS[:-1])} or {_ENHANCERS[-1]}"


class LoadFaceEnhancer(io.ComfyNode):
    """Loader node: a face restoration model from models/facerestore_models."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerLoadFaceEnhancer", "Load face enhancer", "loaders",
            f"Loads a face restoration model ({_ENHANCER_LIST}) from ComfyUI/models/facerestore_models for the "
            "Face enhance node.",
            inputs=[
                io.Combo.Input("model_name", options=comfy.model_names(comfy.FACE_RESTORE), tooltip=(
                    f"A file in ComfyUI/models/facerestore_models: {_ENHANCER_LIST} (CodeFormer needs the "
                    f"spandrel_extra_arches package). Empty list: put one there ({GFPGAN.name}: "
                    f"{GFPGAN.url}) and press R to refresh.")),
                device_input(),
                precision_input(
                    "exact: float32; fast: the reduced precision the device computes natively (GPUs; CPUs with "
                    "AVX512-BF16 / AMX: 2.3x for GFPGAN in benchmarks/RESULTS.md; refused elsewhere); auto: fast "
                    "on a CUDA GPU, exact elsewhere. A model without reduced-precision support runs in float32."),
            ],
            outputs=[output(Enhancer, "enhancer", "The face restoration model; connect to Face enhance.")],
        )

    @classmethod
    def validate_inputs(cls, model_name: str) -> bool | str:
        """A missing file is named with where to put it (ComfyUI would only say the list is empty); a name
        leading outside the folder is refused."""
        folders = comfy.model_folders(comfy.FACE_RESTORE)
        try:
            if comfy.file_within(model_name, folders) is not None:
                return True
        except SadTalkerError as err:
            return str(err)
        present = comfy.model_names(comfy.FACE_RESTORE)
        found = f"it holds {', '.join(present)}" if present else "it holds no model"
        return (f"'{model_name}' is not in ComfyUI/models/facerestore_models ({found}). Download "
                f"{GFPGAN.name} ({GFPGAN.url}), {' or '.join(_ENHANCERS[1:])} into "
                f"{' or '.join(str(f) for f in folders)}, then refresh (R) and pick it.")

    @classmethod
    def execute(cls, model_name: str, device: str, precision: str) -> io.NodeOutput:
        return io.NodeOutput(_load_enhancer(comfy.model_path(comfy.FACE_RESTORE, model_name), _device(device),
                                            precision))


@functools.lru_cache(maxsize=2)
def _load_enhancer(path: Path, device: torch.device, precision: str) -> FaceEnhancer:
    comfy.free_memory(path.stat().st_size, device)
    enhancer = load_face_enhancer(path, device, precision)
    comfy.manage_models(enhancer, {"model": enhancer.model}, device)
    return enhancer


NODES = [LoadSadTalkerModels, LoadFaceEnhancer]
