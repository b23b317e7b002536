"""The 257 Deep3DFaceRecon coefficients by meaning, and the 73-d source vector SadTalker builds from them."""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from ..config import ReconNetConfig

SOURCE_COEFF_DIMS = 73  # exp 64 + angle 3 + trans 3 + (scale, tx, ty) of the alignment


@dataclass(frozen=True)
class Coeffs3DMM:
    """One (B, 257) regressor output split by meaning, in the official order: identity,
    expression, texture, angles (pitch, yaw, roll; radians), lighting (9 SH bands x RGB) and
    translation."""

    id: torch.Tensor
    exp: torch.Tensor
    tex: torch.Tensor
    angle: torch.Tensor
    gamma: torch.Tensor
    trans: torch.Tensor

    @classmethod
    def split(cls, full: torch.Tensor, config: ReconNetConfig = ReconNetConfig()) -> "Coeffs3DMM":
        """Split a (B, 257) coefficient tensor (views into ``full``, not copies)."""
        sizes = [config.id_dims, config.exp_dims, config.tex_dims, config.angle_dims, config.gamma_dims, config.trans_dims]
        if full.ndim != 2 or full.shape[1] != sum(sizes):
            raise ValueError(f"expected (B, {sum(sizes)}) 3DMM coefficients, got shape {tuple(full.shape)}")
        return cls(*torch.split(full, sizes, dim=1))

    def full(self) -> torch.Tensor:
        """The (B, 257) tensor again."""
        return torch.cat([getattr(self, f.name) for f in fields(self)], dim=1)


def source_coeffs(coeffs: Coeffs3DMM, trans_params: np.ndarray | torch.Tensor) -> torch.Tensor:
    """SadTalker's (B, 73) source coefficients: [exp 64, angle 3, trans 3, scale, tx, ty].

    ``trans_params`` is the alignment's float32 (w0, h0, s, tx, ty) vector (one for the batch,
    or one per row); the last three entries are appended as they are (tx, ty in pixels).
    """
    if not isinstance(trans_params, torch.Tensor):
        trans_params = torch.from_numpy(np.asarray(trans_params, dtype=np.float32))
    extra = trans_params.reshape(-1, 5)[:, 2:].to(device=coeffs.exp.device, dtype=coeffs.exp.dtype)
    extra = extra.expand(coeffs.exp.shape[0], 3)
    return torch.cat([coeffs.exp, coeffs.angle, coeffs.trans, extra], dim=1)
