"""3DMM extraction of one aligned face: 224x224 uint8 crop -> regressor -> 257 + 73 coefficients.

This is the per-frame body of the official ``CropAndExtract.generate`` after alignment; the
73-d ``source`` vector is what SadTalker saves as ``coeff_3dmm`` and feeds to audio2coeff and
the face renderer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..networks.recon_net import ReconNet
from ..precision import float32_arithmetic
from .align import AlignedFace
from .coeffs import Coeffs3DMM, source_coeffs


@dataclass(frozen=True)
class Face3DMM:
    """Regressor output for one aligned face, on CPU: ``full`` (1, 257) (split it with
    :meth:`Coeffs3DMM.split`) and ``source`` (1, 73)."""

    full: torch.Tensor
    source: torch.Tensor


def recon_input(image: np.ndarray, size: int = 224) -> torch.Tensor:
    """An RGB uint8 (size, size, 3) crop -> (1, 3, size, size) float32 in [0, 1].

    Divided in float64 and then rounded to float32, exactly as the official code does.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != (size, size, 3):
        desc = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"the 3DMM regressor needs an aligned RGB uint8 crop of shape ({size}, {size}, 3), got a {desc}")
    scaled = torch.from_numpy(image / 255.0).to(torch.float32)
    return scaled.permute(2, 0, 1).unsqueeze(0).contiguous()


@torch.no_grad()
@float32_arithmetic()
def extract_3dmm(net: ReconNet, face: AlignedFace) -> Face3DMM:
    """Run the regressor on one aligned face (on the net's device) and build its source coefficients."""
    device = next(net.parameters()).device
    full = net(recon_input(face.image, net.config.input_size).to(device)).float().cpu()
    return Face3DMM(full, source_coeffs(Coeffs3DMM.split(full, net.config), face.trans_params.as_array()))
