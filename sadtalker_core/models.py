"""Find the official model files in a folder and load every network the pipeline needs, once.

Official layouts accepted (as users have them after SadTalker's download script):

* new: ``SadTalker_V0.0.2_256.safetensors`` / ``SadTalker_V0.0.2_512.safetensors`` (recon net,
  ExpNet, PoseVAE, keypoint detector, generator) + ``mapping_00229-model.pth.tar`` (preprocess
  crop / extcrop / resize) and / or ``mapping_00109-model.pth.tar`` (full / extfull);
* legacy: ``epoch_20.pth``, ``auido2exp_00300-model.pth``, ``auido2pose_00140-model.pth``,
  ``facevid2vid_00189-model.pth.tar`` + the same mapping files.

The face detector is loaded with them (:func:`~sadtalker_core.source.detectors.load_detector`):
by default the official RetinaFace + AWing-FAN files when both are present
(``detection_Resnet50_Final.pth``, ``alignment_WFLW_4HG.pth``), else dlib (no download needed).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import torch
from torch import nn

from .checkpoints import CheckpointError
from .config import FACERENDER, FACERENDER_STILL, FaceRenderConfig
from .errors import InputError
from .motion.generate import MotionNets, load_motion_nets
from .networks.generator import OcclusionAwareSPADEGenerator
from .networks.keypoint_detector import KPDetector, load_kp_detector
from .networks.mapping import MappingNet, load_mapping
from .networks.recon_net import ReconNet, load_recon_net
from .official_files import MAPPING_FACE, MAPPING_STILL, RENDER_SIZES, bundle_name
from .precision import default_device
from .render.frames import FaceRenderModels, load_render_generator
from .render.generator_settings import EXACT, GeneratorSettings
from .source.crop import PreprocessMode
from .source.detectors import DetectorChoice, load_detector
from .source.landmarks import LandmarkDetector

LEGACY_FILES = {
    "recon": "epoch_20.pth",
    "expnet": "auido2exp_00300-model.pth",
    "posevae": "auido2pose_00140-model.pth",
    "render": "facevid2vid_00189-model.pth.tar",
}


class MappingVariant(str, Enum):
    """The two trained MappingNets and the preprocess modes that use each."""

    FACE = "face"  # mapping_00229 (70 coefficients, facerender.yaml): crop, extcrop, resize
    STILL = "still"  # mapping_00109 (73: + the crop's scale and offset, facerender_still.yaml): full, extfull

    @classmethod
    def for_mode(cls, mode: PreprocessMode | str) -> MappingVariant:
        return cls.STILL if PreprocessMode(mode).pastes_back else cls.FACE

    @property
    def file_name(self) -> str:
        return MAPPING_FILES[self]

    @property
    def config(self) -> FaceRenderConfig:
        return FACERENDER_STILL if self is MappingVariant.STILL else FACERENDER


MAPPING_FILES = {MappingVariant.FACE: MAPPING_FACE, MappingVariant.STILL: MAPPING_STILL}


@dataclass(frozen=True)
class ModelFiles:
    """Which official file serves each network (paths), for one render size."""

    size: int
    recon: Path
    expnet: Path
    posevae: Path
    render: Path
    mappings: dict[MappingVariant, Path]

    def mapping_for(self, mode: PreprocessMode) -> Path:
        variant = MappingVariant.for_mode(mode)
        if variant not in self.mappings:
            raise CheckpointError(
                f"preprocess '{PreprocessMode(mode).value}' needs {variant.file_name}, which is not in "
                f"{self.render.parent}; put the official file there (python -m sadtalker_core download DIR)"
            )
        return self.mappings[variant]


def find_model_files(folder: str | os.PathLike, size: int = 256) -> ModelFiles:
    """Locate the official files for render ``size`` (256 or 512) in ``folder``."""
    folder = Path(folder)
    if size not in RENDER_SIZES:
        raise InputError(f"render size must be one of {RENDER_SIZES}, got {size}")
    if not folder.is_dir():
        raise CheckpointError(f"model folder {folder} does not exist; download the official SadTalker files into it: "
                              f"python -m sadtalker_core download {folder}")
    bundle = folder / bundle_name(size)
    if bundle.is_file():
        recon = expnet = posevae = render = bundle
    elif size == 256 and all((folder / name).is_file() for name in LEGACY_FILES.values()):
        recon, expnet, posevae, render = (folder / LEGACY_FILES[k] for k in ("recon", "expnet", "posevae", "render"))
    else:
        legacy = " + ".join(LEGACY_FILES.values())
        raise CheckpointError(
            f"{folder}: no {bundle_name(size)}"
            + (f" (nor the legacy files {legacy})" if size == 256 else "")
            + ". Download the official SadTalker files into that folder: python -m sadtalker_core download "
            + str(folder)
        )
    mappings = {variant: folder / name for variant, name in MAPPING_FILES.items() if (folder / name).is_file()}
    if not mappings:
        raise CheckpointError(f"{folder}: neither {' nor '.join(MAPPING_FILES.values())} found")
    return ModelFiles(size, recon, expnet, posevae, render, mappings)


@dataclass(frozen=True)
class SadTalkerModels:
    """Every network of the pipeline and the face detector, loaded once, in eval mode, on one
    device: the one bundle the command line, the library and the nodes hand around."""

    files: ModelFiles
    recon: ReconNet
    motion: MotionNets
    kp_detector: KPDetector
    generator: OcclusionAwareSPADEGenerator
    mappings: dict[MappingVariant, MappingNet]
    detector: LandmarkDetector
    device: torch.device
    generator_settings: GeneratorSettings = EXACT  # how the generator computes (precision, layout, compilation)

    @property
    def size(self) -> int:
        return self.files.size

    def networks(self) -> dict[str, nn.Module]:
        """Every torch network of the bundle and its face detector, by name (what a caller moving them
        between devices moves)."""
        nets = {"recon": self.recon, "expnet": self.motion.expnet, "posevae": self.motion.posevae,
                "kp_detector": self.kp_detector, "generator": self.generator}
        nets |= {f"mapping_{variant.value}": mapping for variant, mapping in self.mappings.items()}
        return nets | {f"detector_{name}": net for name, net in self.detector.networks().items()}

    def render_models(self, mode: PreprocessMode) -> FaceRenderModels:
        """Keypoint detector + generator + the mapping variant ``mode`` uses."""
        self.files.mapping_for(mode)  # clear error when the file is missing
        return FaceRenderModels(self.kp_detector, self.generator, self.mappings[MappingVariant.for_mode(mode)])


def load_models(folder: str | os.PathLike, size: int = 256, device: torch.device | str | None = None,
                generator_settings: GeneratorSettings = EXACT, detector: DetectorChoice | str = DetectorChoice.AUTO,
                detector_folders: Sequence[str | os.PathLike] = ()) -> SadTalkerModels:
    """Find and load every network for render ``size`` from ``folder`` (on ``device``, by default
    :func:`~sadtalker_core.precision.default_device`: a GPU when there is one);
    the face renderer's generator is set up for ``generator_settings``
    (:mod:`sadtalker_core.render.generator_settings`); the face ``detector``'s official files are
    looked up in ``detector_folders``, then ``folder``."""
    device = torch.device(device) if device else default_device()
    generator_settings = generator_settings.on(device)
    files = find_model_files(folder, size)
    face_detector = load_detector(detector, [*detector_folders, folder], device)  # its files missing: fail first
    return SadTalkerModels(
        files=files,
        recon=load_recon_net(files.recon, device),
        motion=load_motion_nets(files.expnet, files.posevae, device),
        kp_detector=load_kp_detector(files.render, device, FACERENDER.kp_detector),
        generator=load_render_generator(files.render, device, FACERENDER.generator, generator_settings),
        mappings={variant: load_mapping(path, device, variant.config.mapping) for variant, path in files.mappings.items()},
        detector=face_detector,
        device=device,
        generator_settings=generator_settings,
    )
