"""Deep3DFaceRecon coefficient regressor: a ResNet-50 with seven 1x1-conv heads -> 257 3DMM coefficients.

Same structure as the official ``ReconNetWrapper('resnet50', use_last_fc=False)``, and the same
parameter / buffer names (``backbone.conv1.weight``, ``backbone.layer1.0.downsample.0.weight``,
``final_layers.6.bias``, ...), so the ``face_3drecon.`` section of ``SadTalker_V0.0.2_*.safetensors``
and the ``net_recon`` entry of ``epoch_20.pth`` load unchanged.  The ResNet is torchvision's v1.5
layout (stride on the 3x3 conv of a bottleneck) without the classifier.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from ..checkpoints import load_network
from ..config import ReconNetConfig

#: bottleneck blocks per stage of a ResNet-50.
RESNET50_BLOCKS: tuple[int, int, int, int] = (3, 4, 6, 3)
_EXPANSION = 4  # bottleneck output channels = 4 x its inner width


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (carries the stride) -> 1x1 expand, plus a shortcut."""

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * _EXPANSION
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


class ResNet50Features(nn.Module):
    """ResNet-50 trunk up to the global average pool: (B, 3, H, W) -> (B, 2048, 1, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = 64
        for index, (width, blocks) in enumerate(zip((64, 128, 256, 512), RESNET50_BLOCKS)):
            stride = 1 if index == 0 else 2
            layer = [Bottleneck(channels, width, stride)]
            channels = width * _EXPANSION
            layer += [Bottleneck(channels, width) for _ in range(blocks - 1)]
            setattr(self, f"layer{index + 1}", nn.Sequential(*layer))
        self.out_channels = channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x)


class ReconNet(nn.Module):
    """Aligned face crop in [0, 1] (B, 3, 224, 224) -> 3DMM coefficients (B, 257).

    The heads, in output order: identity, expression, texture, angles, lighting (gamma),
    translation x/y, translation z (the official net splits the translation into two heads).
    """

    def __init__(self, config: ReconNetConfig = ReconNetConfig()) -> None:
        super().__init__()
        self.config = config
        self.backbone = ResNet50Features()
        if self.backbone.out_channels != config.fc_dim:
            raise ValueError(f"ReconNetConfig.fc_dim={config.fc_dim}, but a ResNet-50 gives {self.backbone.out_channels}")
        head_dims = (
            config.id_dims, config.exp_dims, config.tex_dims, config.angle_dims, config.gamma_dims,
            config.trans_dims - 1, 1,
        )
        self.final_layers = nn.ModuleList(nn.Conv2d(config.fc_dim, dims, 1) for dims in head_dims)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = self.backbone(image)
        return torch.cat([head(features) for head in self.final_layers], dim=1).flatten(1)


def load_recon_net(
    path: str | os.PathLike, device: torch.device | str = "cpu", config: ReconNetConfig = ReconNetConfig()
) -> ReconNet:
    """A :class:`ReconNet` in eval mode with the ``face_3drecon`` weights of an official file
    (``SadTalker_V0.0.2_*.safetensors`` or ``epoch_20.pth``), on ``device``."""
    return load_network(ReconNet(config), path, "face_3drecon", device)
