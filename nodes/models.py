"""Loader nodes: the SadTalker networks (+ face detector) and a face restoration model.

Models load once: a loaded set is kept (the last two) and handed out again to any loader node
asking for the same files, device and detector, across runs and workflows.  Before loading onto
a GPU, ComfyUI is asked to make room (it unloads its own models as needed).
"""
from __future__ import annotations

import functools
from pathlib import Path

import torch

from ..sadtalker_core.checkpoints import CheckpointError
from ..sadtalker_core.models import DETECTOR_FILES, RENDER_SIZES, find_model_files, load_models
from ..sadtalker_core.post.enhance import FaceEnhancer, load_face_enhancer
from ..sadtalker_core.precision import Precision
from ..sadtalker_core.render.speed import RenderSpeed
from ..sadtalker_core.source.dlib_detector import DlibDetector
from ..sadtalker_core.source.official_detector import OfficialDetector
from . import comfy
from .types import CATEGORY, ENHANCER, MODELS, ModelBundle

DEVICES = ("auto", "cpu")
PRECISIONS = [p.value for p in Precision]
DETECTORS = ("auto", "retinaface", "dlib")


def _device(choice: str) -> torch.device:
    return torch.device("cpu") if choice == "cpu" else comfy.torch_device()


def _model_folder(size: int) -> Path:
    """The first SadTalker model folder holding the official files for ``size``."""
    problems = []
    for folder in comfy.model_folders(comfy.SADTALKER):
        try:
            find_model_files(folder, size)
            return folder
        except CheckpointError as err:
            problems.append(str(err))
    raise CheckpointError(f"no SadTalker models for size {size}: {' | '.join(problems)}")


def _detector_files() -> tuple[Path, Path] | None:
    """The official RetinaFace + FAN files, from models/facedetection or models/sadtalker."""
    folders = comfy.model_folders(comfy.FACE_DETECTION) + comfy.model_folders(comfy.SADTALKER)
    found = [next((f / name for f in folders if (f / name).is_file()), None) for name in DETECTOR_FILES]
    return None if None in found else (found[0], found[1])


@functools.lru_cache(maxsize=2)
def _load(folder: Path, size: int, device: torch.device, speed: RenderSpeed,
          detector: tuple[Path, Path] | None) -> ModelBundle:
    files = find_model_files(folder, size)
    needed = {files.recon, files.expnet, files.posevae, files.render, *files.mappings.values(), *(detector or ())}
    comfy.free_memory(sum(path.stat().st_size for path in needed), device)
    models = load_models(folder, size, device, speed)
    if detector is None:
        return ModelBundle(models, DlibDetector(), "dlib")
    return ModelBundle(models, OfficialDetector.from_files(*detector, device=device), "retinaface")


class LoadSadTalkerModels:
    """Loader node: SadTalker's networks for one render size, and a face detector."""

    DESCRIPTION = (
        "Loads the official SadTalker networks (3DMM extractor, ExpNet, PoseVAE, mappingNet, face-vid2vid) "
        "from ComfyUI/models/sadtalker, once: later runs reuse them. Needs SadTalker_V0.0.2_256.safetensors "
        "(or _512) and mapping_00229-model.pth.tar / mapping_00109-model.pth.tar there."
    )
    CATEGORY = CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = (MODELS,)
    RETURN_NAMES = ("models",)
    OUTPUT_TOOLTIPS = ("The loaded SadTalker networks and face detector; connect to every SadTalker node.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {
            "size": ([str(s) for s in RENDER_SIZES], {
                "default": "256", "tooltip": "Render size of the face: 256 (faster) or 512 (sharper; "
                                             "needs SadTalker_V0.0.2_512.safetensors)."}),
            "device": (list(DEVICES), {
                "default": "auto", "tooltip": "auto: ComfyUI's device (the GPU when there is one); cpu: always the CPU."}),
            "precision": (PRECISIONS, {
                "default": "auto", "tooltip": "Face renderer number format. exact: float32, the official frames; "
                "fast: bfloat16 / float16 convolutions where the device computes them natively (about 2-3x faster, "
                "frames differ slightly, PSNR > 35 dB; refused on CPUs without AVX512-BF16 / AMX); "
                "auto: fast on a CUDA GPU, exact elsewhere."}),
            "face_detector": (list(DETECTORS), {
                "default": "auto", "tooltip": "retinaface: the official RetinaFace + FAN files "
                "(detection_Resnet50_Final.pth, alignment_WFLW_4HG.pth in models/facedetection or models/sadtalker); "
                "dlib: no download needed; auto: retinaface when its files are there, else dlib."}),
        }}

    def load(self, size: str, device: str, precision: str, face_detector: str) -> tuple[ModelBundle]:
        detector = None
        if face_detector != "dlib":
            detector = _detector_files()
            if detector is None and face_detector == "retinaface":
                raise FileNotFoundError(
                    f"face_detector 'retinaface' needs {' and '.join(DETECTOR_FILES)} in ComfyUI/models/facedetection "
                    "or models/sadtalker; put them there or choose 'dlib'")
        target = _device(device)
        return (_load(_model_folder(int(size)), int(size), target, RenderSpeed(precision).on(target), detector),)


class LoadFaceEnhancer:
    """Loader node: a face restoration model from models/facerestore_models."""

    DESCRIPTION = ("Loads a face restoration model (GFPGANv1.4.pth, RestoreFormer.pth or codeformer.pth) from "
                   "ComfyUI/models/facerestore_models for the Face enhance node.")
    CATEGORY = CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = (ENHANCER,)
    RETURN_NAMES = ("enhancer",)
    OUTPUT_TOOLTIPS = ("The face restoration model; connect to Face enhance.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {
            "model_name": (comfy.model_names(comfy.FACE_RESTORE), {
                "tooltip": "A file in ComfyUI/models/facerestore_models: GFPGANv1.4.pth, RestoreFormer.pth or "
                           "codeformer.pth (CodeFormer needs the spandrel_extra_arches package)."}),
            "device": (list(DEVICES), {"default": "auto", "tooltip": "auto: ComfyUI's device; cpu: always the CPU."}),
            "precision": (PRECISIONS, {
                "default": "auto", "tooltip": "exact: float32; fast: the reduced precision the device computes "
                "natively (GPUs; CPUs with AVX512-BF16 / AMX: 2.3x for GFPGAN in benchmarks/RESULTS.md; refused "
                "elsewhere); auto: fast on a CUDA GPU, exact elsewhere. A model without reduced-precision support "
                "runs in float32."}),
        }}

    def load(self, model_name: str, device: str, precision: str) -> tuple[FaceEnhancer]:
        return (_load_enhancer(comfy.model_path(comfy.FACE_RESTORE, model_name), _device(device), precision),)


@functools.lru_cache(maxsize=2)
def _load_enhancer(path: Path, device: torch.device, precision: str) -> FaceEnhancer:
    comfy.free_memory(path.stat().st_size, device)
    return load_face_enhancer(path, device, precision)


NODES = {
    "SadTalkerLoadModels": (LoadSadTalkerModels, "Load SadTalker models"),
    "SadTalkerLoadFaceEnhancer": (LoadFaceEnhancer, "Load face enhancer (SadTalker)"),
}
