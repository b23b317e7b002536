"""Render with a source that changes every frame: a video's frame t animated by its own motion with new expressions.

The picture path (:mod:`sadtalker_core.render.frames`) encodes one source image and one source
window (the source coefficients repeated 27 times) for the whole clip.  Here output frame t has
its own source: the video frame's crop, whose canonical keypoints (KPDetector) and appearance
features (``generator.encode_source``) are computed per frame, in the same batch as the render.
MappingNet reads, per frame t, two 27-frame windows (t-13 .. t+13, clamped to the clip) of the
video's own coefficients in output order (:class:`VideoWindows`):

* source: the frame's own [expression, angles, translation (, crop values for the 73-d mapping)];
* driving: the same with the expression replaced by the new one (ExpNet's, from the speech).

So the source and driving keypoints differ only through the expression: with the video's own
expression as the new one they are equal, and the render is the per-frame reconstruction of the
video (``generator(crop_t, kp_t, kp_t)``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..networks.generator import SourceEncoding
from ..precision import float32_arithmetic
from .frames import FaceRenderModels
from .inputs import EXP_DIMS, MOTION_DIMS, CoeffWindows, source_image_tensor
from .keypoints import keypoint_transformation


@dataclass(frozen=True)
class VideoWindows:
    """Per output frame: the source's own coefficients ``source`` (T, C) and the driving
    coefficients ``driving`` (T, C), C = MappingNet's ``coeff_nc``."""

    source: torch.Tensor
    driving: torch.Tensor

    def __post_init__(self) -> None:
        if self.source.ndim != 2 or self.source.shape != self.driving.shape or self.source.shape[0] < 1:
            raise ValueError(f"source and driving coefficients must both be (T >= 1, C), got "
                             f"{tuple(self.source.shape)} and {tuple(self.driving.shape)}")

    @property
    def frame_num(self) -> int:
        return int(self.source.shape[0])

    def windows(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, C, 27) source and driving windows of output frames ``frames`` (n,) int, cut as the
        picture path cuts its driving windows (:meth:`CoeffWindows.targets`)."""
        return tuple(CoeffWindows(sequence[:1], sequence).targets(frames) for sequence in (self.source, self.driving))


def video_windows(own: torch.Tensor, expression: torch.Tensor, coeff_nc: int = MOTION_DIMS) -> VideoWindows:
    """:class:`VideoWindows` from the source frames' own coefficients ``own`` (T, >= ``coeff_nc``),
    in output order (a frame shown twice appears twice), and the new ``expression`` (T, 64), already
    scaled (the expression scale is the motion's, :meth:`~sadtalker_core.motion.sequences.ExpressionSequence.scaled`)."""
    source = torch.as_tensor(own, dtype=torch.float32)
    if source.ndim != 2 or source.shape[1] < coeff_nc:
        raise ValueError(f"own coefficients must be (T, >= {coeff_nc}), got {tuple(source.shape)}")
    source = source[:, :coeff_nc].cpu()
    expression = torch.as_tensor(expression, dtype=torch.float32).cpu()
    if expression.shape != (source.shape[0], EXP_DIMS):
        raise ValueError(f"expression must be ({source.shape[0]}, {EXP_DIMS}), one row per frame, "
                         f"got {tuple(expression.shape)}")
    driving = source.clone()
    driving[:, :EXP_DIMS] = expression
    return VideoWindows(source.contiguous(), driving)


def source_images(crops: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """(n, 3, size, size) float32 in [0, 1]: each RGB crop as the picture path prepares its source
    (:func:`~sadtalker_core.render.inputs.source_image_tensor`)."""
    return torch.cat([source_image_tensor(crop, size) for crop in crops])


@dataclass(frozen=True)
class VideoSourceKeypoints:
    """One batch of per-frame sources: posed source and driving keypoints (n, num_kp, 3) and the
    generator's source encodings (batch n)."""

    kp_source: torch.Tensor
    kp_driving: torch.Tensor
    encoding: SourceEncoding


def video_source_keypoints(models: FaceRenderModels, images: torch.Tensor, source_windows: torch.Tensor,
                           driving_windows: torch.Tensor) -> VideoSourceKeypoints:
    """``images`` (n, 3, H, W) in [0, 1], one source per frame; windows (n, C, 27)
    (:meth:`VideoWindows.windows`)."""
    with torch.inference_mode(), float32_arithmetic():
        image = images.to(models.device, torch.float32)
        kp_canonical = models.kp_detector(image)

        def posed(windows: torch.Tensor) -> torch.Tensor:
            return keypoint_transformation(kp_canonical, models.mapping(windows.to(models.device, torch.float32)))

        return VideoSourceKeypoints(posed(source_windows), posed(driving_windows), models.generator.encode_source(image))


def render_video_batch(models: FaceRenderModels, images: torch.Tensor, source_windows: torch.Tensor,
                       driving_windows: torch.Tensor) -> torch.Tensor:
    """(n, 3, H, W) float32 frames in [0, 1] on the models' device: each source image animated from
    its own pose to its driving window (:func:`video_source_keypoints`)."""
    kp = video_source_keypoints(models, images, source_windows, driving_windows)
    with torch.inference_mode(), float32_arithmetic():
        return models.generator.animate(kp.encoding, kp.kp_driving, kp.kp_source).prediction


#: what renders a batch of per-frame sources: :func:`render_video_batch`'s signature and output
VideoBatchRenderer = Callable[[FaceRenderModels, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
