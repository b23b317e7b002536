"""Normalised 3D coordinate grids and keypoint gaussians (official ``util.py`` helpers).

Keypoints live in the [-1, 1]^3 cube of the renderer's feature volume, ordered (x, y, z) =
(width, height, depth) as ``grid_sample`` expects.
"""
from __future__ import annotations

import torch


def coordinate_grid(spatial_size: tuple[int, int, int], like: torch.Tensor) -> torch.Tensor:
    """(d, h, w, 3) grid of (x, y, z) coordinates spanning [-1, 1] along each axis, in the dtype and
    on the device of ``like``."""
    d, h, w = spatial_size

    def axis(n: int) -> torch.Tensor:
        values = torch.arange(n, device=like.device).to(like.dtype)
        return 2 * (values / (n - 1)) - 1

    x = axis(w).view(1, 1, w).expand(d, h, w)
    y = axis(h).view(1, h, 1).expand(d, h, w)
    z = axis(d).view(d, 1, 1).expand(d, h, w)
    return torch.stack([x, y, z], dim=3)


def kp2gaussian(kp: torch.Tensor, spatial_size: tuple[int, int, int], kp_variance: float) -> torch.Tensor:
    """Gaussian blob around each keypoint: (bs, num_kp, 3) -> (bs, num_kp, d, h, w)."""
    grid = coordinate_grid(spatial_size, kp)
    diff = grid.view(1, 1, *grid.shape) - kp.view(*kp.shape[:2], 1, 1, 1, 3)
    return torch.exp(-0.5 * (diff ** 2).sum(-1) / kp_variance)
