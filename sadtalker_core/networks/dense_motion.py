"""DenseMotionNetwork: sparse keypoint motions -> a dense 3D deformation field and occlusion map.

For every keypoint k the source feature volume is warped by the motion that moves driving
keypoint k onto source keypoint k (plus an identity "background" motion).  A 3D hourglass looks
at these warped volumes together with the keypoint heatmap differences and predicts, per voxel, a
softmax mask over the num_kp + 1 motions; the dense deformation is the mask-weighted sum of the
motions.  State-dict keys equal the official ``dense_motion_network.*``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DenseMotionConfig
from .blocks import Hourglass
from .coordinates import coordinate_grid, kp2gaussian

KP_VARIANCE = 0.01
#: mask weights below this are dropped before the motions are blended (official behaviour)
MASK_FLOOR = 1e-3


@dataclass(frozen=True)
class DenseMotion:
    """``mask`` (bs, num_kp + 1, d, h, w) softmax over motions; ``deformation`` (bs, d, h, w, 3)
    sampling grid into the source volume; ``occlusion_map`` (bs, 1, h, w) or None."""

    mask: torch.Tensor
    deformation: torch.Tensor
    occlusion_map: torch.Tensor | None


class DenseMotionNetwork(nn.Module):
    def __init__(self, config: DenseMotionConfig, num_kp: int, feature_channel: int, estimate_occlusion_map: bool):
        super().__init__()
        self.hourglass = Hourglass(config.block_expansion, in_features=(num_kp + 1) * (config.compress + 1),
                                   num_blocks=config.num_blocks, max_features=config.max_features)
        self.mask = nn.Conv3d(self.hourglass.out_filters, num_kp + 1, kernel_size=7, padding=3)
        self.compress = nn.Conv3d(feature_channel, config.compress, kernel_size=1)
        self.norm = nn.BatchNorm3d(config.compress, affine=True)
        self.occlusion = (nn.Conv2d(self.hourglass.out_filters * config.reshape_depth, 1, kernel_size=7, padding=3)
                          if estimate_occlusion_map else None)
        self.num_kp = num_kp

    def compress_source(self, feature_3d: torch.Tensor) -> torch.Tensor:
        """Source feature volume (bs, C, d, h, w) -> the few-channel volume the motion is estimated
        from.  Depends on the source only, so callers compute it once per source image."""
        return F.relu(self.norm(self.compress(feature_3d)))

    def sparse_motions(self, spatial_size: tuple[int, int, int], kp_driving: torch.Tensor,
                       kp_source: torch.Tensor) -> torch.Tensor:
        """(bs, num_kp + 1, d, h, w, 3) sampling grids: identity first, then per keypoint the grid
        shifted by (kp_source - kp_driving)."""
        bs = kp_driving.shape[0]
        identity = coordinate_grid(spatial_size, kp_source).view(1, 1, *spatial_size, 3)
        driving_to_source = (identity - kp_driving.view(bs, self.num_kp, 1, 1, 1, 3)
                             + kp_source.view(kp_source.shape[0], self.num_kp, 1, 1, 1, 3))
        return torch.cat([identity.expand(bs, 1, *spatial_size, 3), driving_to_source], dim=1)

    def deformed_features(self, feature: torch.Tensor, motions: torch.Tensor) -> torch.Tensor:
        """The source volume warped by each motion: (bs, num_kp + 1, C, d, h, w)."""
        bs, n = motions.shape[:2]
        c, d, h, w = feature.shape[1:]
        repeated = feature.unsqueeze(1).expand(bs, n, c, d, h, w).reshape(bs * n, c, d, h, w)
        deformed = F.grid_sample(repeated, motions.reshape(bs * n, d, h, w, 3), align_corners=False)
        return deformed.view(bs, n, c, d, h, w)

    def heatmap_representations(self, spatial_size: tuple[int, int, int], kp_driving: torch.Tensor,
                                kp_source: torch.Tensor) -> torch.Tensor:
        """Driving minus source keypoint gaussians, with an all-zero background channel first:
        (bs, num_kp + 1, 1, d, h, w)."""
        heatmap = (kp2gaussian(kp_driving, spatial_size, KP_VARIANCE)
                   - kp2gaussian(kp_source, spatial_size, KP_VARIANCE))
        zeros = heatmap.new_zeros(heatmap.shape[0], 1, *spatial_size)
        return torch.cat([zeros, heatmap], dim=1).unsqueeze(2)

    def forward(self, source_feature: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> DenseMotion:
        """``source_feature`` is :meth:`compress_source`'s output (batch 1 or bs); keypoints are
        (bs, num_kp, 3) (``kp_source`` may have batch 1)."""
        bs = kp_driving.shape[0]
        spatial_size = tuple(source_feature.shape[2:])
        motions = self.sparse_motions(spatial_size, kp_driving, kp_source)
        deformed = self.deformed_features(source_feature, motions)
        heatmap = self.heatmap_representations(spatial_size, kp_driving, kp_source)
        hourglass_in = torch.cat([heatmap, deformed], dim=2).view(bs, -1, *spatial_size)
        prediction = self.hourglass(hourglass_in)

        mask = F.softmax(self.mask(prediction), dim=1)
        weights = mask.unsqueeze(2)
        weights = torch.where(weights < MASK_FLOOR, torch.zeros_like(weights), weights)
        deformation = (motions.permute(0, 1, 5, 2, 3, 4) * weights).sum(dim=1).permute(0, 2, 3, 4, 1)

        occlusion_map = None
        if self.occlusion is not None:
            occlusion_map = torch.sigmoid(self.occlusion(prediction.reshape(bs, -1, *spatial_size[1:])))
        return DenseMotion(mask=mask, deformation=deformation, occlusion_map=occlusion_map)
