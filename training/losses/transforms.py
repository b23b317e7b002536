"""The random thin-plate-spline warps of face-vid2vid's equivariance loss.

A warp ``T`` maps (x, y) in [-1, 1]² to an affine transform of it plus a thin-plate-spline
displacement around a ``points`` x ``points`` grid of control points.  ``warp_image`` resamples a
frame at ``T``'s output, so a feature seen at ``p`` in the warped frame sits at ``T(p)`` in the
original: keypoints detected on the warped frame and mapped by ``T`` must equal those detected
on the original.  The noise comes from the dataset (seeded per sample), not from here.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sadtalker_core.networks.coordinates import coordinate_grid


class ThinPlateWarp:
    """``affine_noise`` (B, 2, 3) added to the identity affine map; ``control_noise`` (B, P, 2) the
    spline weights of the P control points (a square grid)."""

    def __init__(self, affine_noise: torch.Tensor, control_noise: torch.Tensor) -> None:
        eye = torch.eye(2, 3, dtype=affine_noise.dtype, device=affine_noise.device)
        self.theta = affine_noise + eye
        self.weights = control_noise
        points = math.isqrt(control_noise.shape[1])
        grid = coordinate_grid((1, points, points), control_noise)[0, ..., :2]
        self.control = grid.reshape(-1, 2)

    def warp(self, coords: torch.Tensor) -> torch.Tensor:
        """(B, N, 2) points -> (B, N, 2) warped points."""
        affine = torch.einsum("bij,bnj->bni", self.theta[:, :, :2], coords) + self.theta[:, None, :, 2]
        distance = (coords.unsqueeze(2) - self.control.view(1, 1, -1, 2)).abs().sum(-1)
        radial = distance.pow(2) * torch.log(distance + 1e-6)
        return affine + torch.einsum("bnp,bpc->bnc", radial, self.weights)

    def warp_image(self, image: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) frames resampled at the warped pixel grid (reflection at the borders)."""
        batch, _, height, width = image.shape
        grid = coordinate_grid((1, height, width), image)[0, ..., :2].reshape(1, -1, 2).expand(batch, -1, -1)
        warped = self.warp(grid).view(batch, height, width, 2)
        return F.grid_sample(image, warped, padding_mode="reflection", align_corners=True)
