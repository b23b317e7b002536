"""KPDetector: the 15 canonical (identity-specific, pose-free) 3D keypoints of a source image.

face-vid2vid's keypoint detector: a 2D encoder whose output is reshaped into a 3D volume, a 3D
decoder, per-keypoint heatmaps (softmax with temperature over the volume) and their expected
coordinates.  Built from ``kp_detector_params`` of facerender.yaml; state-dict keys equal the
official ``kp_extractor.*`` (bundle) / ``kp_detector`` (facevid2vid file) entries.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_network
from ..config import KPDetectorConfig
from .blocks import AntiAliasInterpolation2d, DownBlock2d, UpBlock3d
from .coordinates import coordinate_grid


class KPHourglass(nn.Module):
    """2D DownBlocks -> 1x1 conv to ``reshape_features`` channels -> view as (C/depth, depth, h, w)
    -> 3D UpBlocks."""

    def __init__(self, block_expansion: int, in_features: int, reshape_features: int, reshape_depth: int,
                 num_blocks: int, max_features: int):
        super().__init__()

        def width(level: int) -> int:
            return min(max_features, block_expansion * (2 ** level))

        self.down_blocks = nn.Sequential()
        for i in range(num_blocks):
            self.down_blocks.add_module(f"down{i}", DownBlock2d(in_features if i == 0 else width(i), width(i + 1)))
        self.conv = nn.Conv2d(width(num_blocks), reshape_features, kernel_size=1)
        self.up_blocks = nn.Sequential()
        for i in range(num_blocks):
            self.up_blocks.add_module(f"up{i}", UpBlock3d(width(num_blocks - i), width(num_blocks - i - 1)))
        self.reshape_depth = reshape_depth
        self.out_filters = width(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(self.down_blocks(x))
        bs, c, h, w = out.shape
        out = out.view(bs, c // self.reshape_depth, self.reshape_depth, h, w)
        return self.up_blocks(out)


class KPDetector(nn.Module):
    """Image (bs, 3, H, W) in [0, 1] -> canonical keypoints (bs, num_kp, 3) in [-1, 1]."""

    def __init__(self, config: KPDetectorConfig = KPDetectorConfig()):
        super().__init__()
        if config.estimate_jacobian:
            raise ValueError("SadTalker's renderer runs without jacobians (estimate_jacobian must be False)")
        self.predictor = KPHourglass(config.block_expansion, in_features=config.image_channel,
                                     reshape_features=config.reshape_channel, reshape_depth=config.reshape_depth,
                                     num_blocks=config.num_blocks, max_features=config.max_features)
        self.kp = nn.Conv3d(self.predictor.out_filters, config.num_kp, kernel_size=3, padding=1)
        self.temperature = config.temperature
        self.scale_factor = config.scale_factor
        if self.scale_factor != 1:
            self.down = AntiAliasInterpolation2d(config.image_channel, self.scale_factor)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self.scale_factor != 1:
            image = self.down(image)
        prediction = self.kp(self.predictor(image))
        shape = prediction.shape
        heatmap = F.softmax(prediction.view(shape[0], shape[1], -1) / self.temperature, dim=2).view(*shape)
        grid = coordinate_grid(shape[2:], heatmap)
        # expected coordinate of each keypoint's heatmap
        return (heatmap.unsqueeze(-1) * grid.view(1, 1, *grid.shape)).sum(dim=(2, 3, 4))


def load_kp_detector(path: str | os.PathLike, device: torch.device | str = "cpu", config: KPDetectorConfig = KPDetectorConfig()) -> KPDetector:
    """A :class:`KPDetector` in eval mode with the ``kp_detector`` weights of an official file
    (``SadTalker_V0.0.2_*.safetensors`` or ``facevid2vid_00189-model.pth.tar``), on ``device``."""
    return load_network(KPDetector(config), path, "kp_detector", device)
