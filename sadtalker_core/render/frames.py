"""Render a clip: source image + 3DMM coefficient windows -> frames, streamed batch by batch.

The official ``make_animation`` (as driven by ``AnimateFromCoeff.generate``) computes the
canonical keypoints and the source pose once, then runs MappingNet -> keypoint transformation ->
generator on batches of frames, padding the last batch by repeating the last frame and trimming
the result to ``frame_num``.  Here the batches hold consecutive frames and each one is yielded as
soon as it is rendered, so memory does not grow with the clip length; the source image is also
encoded by the generator only once (the reference re-encodes it for every batch).  Every frame is
computed independently of its batch neighbours, so the frames equal the reference's up to float
noise of the batch composition (~1e-5).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..config import FACERENDER, FaceRenderConfig, GeneratorConfig
from ..motion.free_view import PoseOverride
from ..networks.generator import OcclusionAwareSPADEGenerator, SourceEncoding, load_generator
from ..networks.keypoint_detector import KPDetector, load_kp_detector
from ..networks.mapping import MappingNet, load_mapping
from ..precision import float32_arithmetic
from .generator_settings import EXACT, GeneratorSettings, apply_generator_settings
from .inputs import CoeffWindows
from .keypoints import keypoint_transformation


@dataclass(frozen=True)
class FaceRenderModels:
    """The three networks ``make_animation`` uses (the HEEstimator it is handed goes unused)."""

    kp_detector: KPDetector
    generator: OcclusionAwareSPADEGenerator
    mapping: MappingNet

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device


def load_render_generator(bundle: str | os.PathLike, device: torch.device | str = "cpu",
                          config: GeneratorConfig = FACERENDER.generator, settings: GeneratorSettings = EXACT) -> OcclusionAwareSPADEGenerator:
    """The generator of ``bundle`` on ``device``, set up for ``settings`` (:func:`apply_generator_settings`)."""
    return apply_generator_settings(load_generator(bundle, device, config), settings)


def load_face_render_models(bundle: str | os.PathLike, mapping: str | os.PathLike,
                            config: FaceRenderConfig = FACERENDER,
                            device: torch.device | str = "cpu", settings: GeneratorSettings = EXACT) -> FaceRenderModels:
    """KPDetector and generator from ``bundle`` (``SadTalker_V0.0.2_*.safetensors`` or
    ``facevid2vid_00189-model.pth.tar``), MappingNet from ``mapping`` (``mapping_00229`` with
    ``FACERENDER``, ``mapping_00109`` with ``FACERENDER_STILL``); the generator set up for ``settings``."""
    return FaceRenderModels(
        kp_detector=load_kp_detector(bundle, device, config.kp_detector),
        generator=load_render_generator(bundle, device, config.generator, settings),
        mapping=load_mapping(mapping, device, config.mapping),
    )


@dataclass(frozen=True)
class RenderSource:
    """Everything that depends on the source alone, computed once per clip (batch 1):
    canonical keypoints, posed source keypoints and the generator's source encoding."""

    kp_canonical: torch.Tensor
    kp_source: torch.Tensor
    encoding: SourceEncoding


def prepare_source(models: FaceRenderModels, source_image: torch.Tensor, source_window: torch.Tensor) -> RenderSource:
    """``source_image`` (1, 3, H, W) in [0, 1]; ``source_window`` (1, C, 27) (:meth:`CoeffWindows.source`)."""
    with torch.inference_mode(), float32_arithmetic():
        image = source_image.to(models.device, torch.float32)
        kp_canonical = models.kp_detector(image)
        kp_source = keypoint_transformation(kp_canonical, models.mapping(source_window.to(models.device, torch.float32)))
        return RenderSource(kp_canonical, kp_source, models.generator.encode_source(image))


@dataclass(frozen=True)
class FrameBatch:
    """Frame indices of one batch, ``batch_size`` long; the first ``count`` are real frames, the
    rest repeat the clip's last frame (the reference pads its last batch that way)."""

    index: torch.Tensor
    count: int


def frame_batches(frame_num: int, batch_size: int) -> Iterator[FrameBatch]:
    """Consecutive batches of ``batch_size`` frames covering ``frame_num`` frames."""
    if frame_num < 1 or batch_size < 1:
        raise ValueError(f"need at least one frame and a batch size >= 1, got {frame_num} frames, batch {batch_size}")
    for start in range(0, frame_num, batch_size):
        index = torch.arange(start, start + batch_size).clamp(max=frame_num - 1)
        yield FrameBatch(index, min(batch_size, frame_num - start))


def render_frames(models: FaceRenderModels, source_image: torch.Tensor, windows: CoeffWindows,
                  batch_size: int = 2, free_view: PoseOverride | None = None) -> Iterator[torch.Tensor]:
    """Yield the clip's frames in order, ``batch_size`` at a time (fewer at the end): float32
    (n, 3, H, W) in [0, 1] on the models' device (inference tensors: read them, do not modify
    them in place), ``windows.frame_num`` frames in all.  Nothing is rendered before the first
    frame is asked for, and each batch is rendered only when the previous one has been taken.

    ``free_view`` holds per-frame (frame_num,) yaw / pitch / roll degrees overriding the driving
    head pose (the reference's ``yaw_c_seq`` etc.).
    """
    source = prepare_source(models, source_image, windows.source())
    for batch in frame_batches(windows.frame_num, batch_size):
        with torch.inference_mode(), float32_arithmetic():
            pose = models.mapping(windows.targets(batch.index).to(models.device))
            override = free_view.select(batch.index) if free_view is not None else None
            kp_driving = keypoint_transformation(source.kp_canonical, pose, override)
            prediction = models.generator.animate(source.encoding, kp_driving, source.kp_source).prediction
        yield prediction[:batch.count]


def frames_to_uint8(frames: torch.Tensor) -> torch.Tensor:
    """(n, 3, H, W) float frames -> (n, H, W, 3) uint8, equal to ``skimage.img_as_ubyte`` of the
    HWC float32 frames (x * 255 in float32, round half to even, clip)."""
    if frames.numel() and (frames.min() < -1 or frames.max() > 1):
        raise ValueError("float frames must be within [-1, 1] (skimage's rule)")
    hwc = frames.to(torch.float32).permute(0, 2, 3, 1)
    return torch.round(hwc * 255).clamp(0, 255).to(torch.uint8)
