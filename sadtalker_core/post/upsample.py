"""Background upsampling for the official ``--background_enhancer realesrgan``: RealESRGAN_x2plus,
loaded through spandrel, run as Real-ESRGAN's ``RealESRGANer(scale=2, tile=400, tile_pad=10,
pre_pad=0)`` runs it.

The frame (RGB, 0..1) is padded by reflection to even sides, cut into ``tile`` x ``tile`` tiles
(the last ones smaller), each tile run with up to ``tile_pad`` pixels of its neighbours around it
(less at the picture's edges) and only its own part of the result kept; the padding is cut off,
the result clamped to 0..1 and rounded to 8 bits.  The official code runs it on CUDA only, in
float16; here it runs on any device, in the dtype the precision setting gives.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import spandrel
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import EnhancerError
from ..precision import Precision, compute_dtype, float32_arithmetic
from .enhance import MODEL_SUFFIXES

OFFICIAL_TILE = 400
OFFICIAL_TILE_PAD = 10


@dataclass(frozen=True)
class BackgroundUpsampler:
    """A loaded super-resolution network (``scale`` x) and its tiling."""

    path: Path
    model: nn.Module
    scale: int
    tile: int = OFFICIAL_TILE  # 0: the whole picture at once
    tile_pad: int = OFFICIAL_TILE_PAD

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @torch.inference_mode()
    @float32_arithmetic()
    def upsample(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (scale H, scale W, 3) uint8 RGB."""
        device = next(self.model.parameters()).device
        image = torch.from_numpy(np.ascontiguousarray(frame)).to(device).permute(2, 0, 1).unsqueeze(0).float() / 255.0
        height, width = image.shape[-2:]
        # Real-ESRGAN pads a 2x model's input to even sides (the network halves it first)
        if self.scale == 2:
            image = F.pad(image, (0, width % 2, 0, height % 2), mode="reflect")
        output = self._tiled(image.to(self.dtype))[..., :height * self.scale, :width * self.scale]
        return (output.float().clamp_(0, 1) * 255.0).round().to(torch.uint8)[0].permute(1, 2, 0).cpu().numpy()

    def _tiled(self, image: torch.Tensor) -> torch.Tensor:
        """The network on ``tile`` x ``tile`` tiles with ``tile_pad`` px of context, merged."""
        height, width = image.shape[-2:]
        tile = self.tile or max(height, width)
        scale, pad = self.scale, self.tile_pad
        output = image.new_zeros((*image.shape[:2], height * scale, width * scale))
        for top in range(0, height, tile):
            for left in range(0, width, tile):
                bottom, right = min(top + tile, height), min(left + tile, width)
                y0, x0 = max(top - pad, 0), max(left - pad, 0)
                result = self.model(image[..., y0:min(bottom + pad, height), x0:min(right + pad, width)])
                output[..., top * scale:bottom * scale, left * scale:right * scale] = result[
                    ..., (top - y0) * scale:(bottom - y0) * scale, (left - x0) * scale:(right - x0) * scale]
        return output


def load_background_upsampler(path: str | os.PathLike, device: torch.device | str = "cpu",
                              precision: Precision | str = Precision.EXACT, tile: int = OFFICIAL_TILE,
                              tile_pad: int = OFFICIAL_TILE_PAD) -> BackgroundUpsampler:
    """Load ``RealESRGAN_x2plus.pth`` (or another 2x super-resolution file spandrel knows) onto
    ``device`` at ``precision`` (float32 where the network has no reduced-precision support).

    Raises :class:`EnhancerError` naming the file when it is missing, unreadable or not a 2x
    super-resolution model."""
    path = Path(path)
    if not path.is_file():
        raise EnhancerError(f"background upsampler file {path} not found; download RealESRGAN_x2plus.pth there")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise EnhancerError(f"{path}: a background upsampler must be a {' / '.join(MODEL_SUFFIXES)} file, "
                            f"got '{path.suffix}'")
    if tile < 0 or tile_pad < 0:
        raise ValueError(f"tile and tile_pad must be >= 0, got {tile} and {tile_pad}")
    dtype = compute_dtype(precision, device)
    try:
        descriptor = spandrel.ModelLoader(device=device).load_from_file(path)
    except spandrel.UnsupportedModelError as err:
        raise EnhancerError(f"{path} is not a model architecture spandrel knows; the background upsampler "
                            "is RealESRGAN_x2plus.pth") from err
    except Exception as err:
        first_line = (str(err).strip().splitlines() or [""])[0][:200]
        raise EnhancerError(f"{path} cannot be read as a model file ({type(err).__name__}: {first_line}); it may "
                            "be truncated by an interrupted download: download it again") from err
    if not isinstance(descriptor, spandrel.ImageModelDescriptor) or descriptor.purpose != "SR" or descriptor.scale != 2:
        raise EnhancerError(f"{path} holds a {descriptor.architecture.name} model (purpose {descriptor.purpose}, "
                            f"scale {descriptor.scale}), not a 2x super-resolution model such as RealESRGAN_x2plus.pth")
    supported = (dtype == torch.float16 and descriptor.supports_half) or (
        dtype == torch.bfloat16 and descriptor.supports_bfloat16)
    model = descriptor.model.eval().requires_grad_(False).to(dtype if supported else torch.float32)
    return BackgroundUpsampler(path, model, descriptor.scale, tile, tile_pad)
