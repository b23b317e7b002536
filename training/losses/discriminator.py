"""face-vid2vid's image discriminator: a spectrally normalised PatchGAN, optionally at several scales.

Each block is a 4x4 convolution (no padding) -> instance norm (not in the first block) ->
LeakyReLU(0.2) -> 2x2 average pooling (not in the last block); a 1x1 convolution turns the last
features into a map of realism logits.  The intermediate feature maps feed the feature-matching
loss.  Training-only: no inference path reads it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DiscriminatorConfig:
    """face-vid2vid's ``discriminator_params`` (vox-256.yaml)."""

    scales: tuple[float, ...] = (1.0,)
    block_expansion: int = 32
    max_features: int = 512
    num_blocks: int = 4
    sn: bool = True


def _spectral(module: nn.Module, enabled: bool) -> nn.Module:
    return nn.utils.spectral_norm(module) if enabled else module


class DiscriminatorBlock(nn.Module):
    def __init__(self, cin: int, cout: int, norm: bool, pool: bool, sn: bool) -> None:
        super().__init__()
        self.conv = _spectral(nn.Conv2d(cin, cout, kernel_size=4), sn)
        self.norm = nn.InstanceNorm2d(cout, affine=True) if norm else nn.Identity()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.leaky_relu(self.norm(self.conv(x)), 0.2)
        return F.avg_pool2d(out, 2) if self.pool else out


class PatchDiscriminator(nn.Module):
    """Image (B, 3, H, W) -> (feature maps of every block, (B, 1, h, w) logits)."""

    def __init__(self, config: DiscriminatorConfig, channels: int = 3) -> None:
        super().__init__()
        widths = [channels] + [min(config.max_features, config.block_expansion * 2 ** (i + 1))
                               for i in range(config.num_blocks)]
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(widths[i], widths[i + 1], norm=i > 0, pool=i < config.num_blocks - 1, sn=config.sn)
            for i in range(config.num_blocks))
        self.logits = _spectral(nn.Conv2d(widths[-1], 1, kernel_size=1), config.sn)

    def forward(self, image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        features, x = [], image
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features, self.logits(x)


class MultiScaleDiscriminator(nn.Module):
    """One :class:`PatchDiscriminator` per scale of an image pyramid (``objectives.ImagePyramid``)."""

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()) -> None:
        super().__init__()
        self.scales = config.scales
        self.discriminators = nn.ModuleList(PatchDiscriminator(config) for _ in config.scales)

    def forward(self, pyramid: dict[float, torch.Tensor]) -> list[tuple[list[torch.Tensor], torch.Tensor]]:
        return [net(pyramid[scale]) for scale, net in zip(self.scales, self.discriminators)]
