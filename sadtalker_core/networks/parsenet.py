"""ParseNet: the face parser of facexlib (``parsing_parsenet.pth``), which GFPGANer's face helper
(``use_parse=True``) runs on every restored face to decide which of its pixels are pasted back.

Network (PSFRGAN's parser, built for 512 px faces): a 3x3 stem to 64 channels, 4 residual blocks
halving the size (channels 128, 256, 256, 256), 10 residual blocks at 32x32 added to their input,
4 residual blocks doubling the size (channels 256, 256, 128, 64), then two 3x3 heads: 19 class
logits (CelebAMask-HQ labels) and a 3-channel picture (trained jointly; face parsing reads only the
logits).  Every conv pads by reflection; a residual block is conv-BN-LeakyReLU(0.2), conv-BN, plus
its input, or plus a plain conv of it where the size or width changes (stride 2 going down,
nearest x2 upsampling before the conv going up).  Parameter names equal the official state dict
(``encoder.1.conv1.norm.norm.weight``, ``body.9.conv2.conv2d.weight``,
``decoder.0.shortcut_func.conv2d.bias``, ``out_mask_conv.conv2d.weight``, ...), so the file loads
strictly.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_network

PARSING_CLASSES = 19
_BASE_CHANNELS = 64
_CHANNEL_RANGE = (32, 256)
_SIZE_STEPS = 4  # 512 px faces down to 32x32 features and back
_BODY_BLOCKS = 10
_LEAKY_SLOPE = 0.2


class _Norm(nn.Module):
    """BatchNorm one level down, where the official file keeps it (``...norm.norm.weight``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


class ConvLayer(nn.Module):
    """[nearest x2 upsampling ->] reflection pad -> 3x3 conv (stride 2 when ``down``)
    [-> BatchNorm] [-> LeakyReLU 0.2].  The conv has a bias only without BatchNorm."""

    def __init__(self, in_channels: int, out_channels: int, scale: str = "none", norm: bool = False,
                 activate: bool = False) -> None:
        super().__init__()
        if scale not in ("none", "down", "up"):
            raise ValueError(f"scale must be 'none', 'down' or 'up', got {scale!r}")
        self.upsample = scale == "up"
        self.activate = activate
        self.conv2d = nn.Conv2d(in_channels, out_channels, 3, stride=2 if scale == "down" else 1, bias=not norm)
        self.norm = _Norm(out_channels) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.norm(self.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect")))
        return F.leaky_relu(x, _LEAKY_SLOPE) if self.activate else x


class ResidualBlock(nn.Module):
    """conv1 (BN, LeakyReLU) -> conv2 (BN) plus a shortcut: the input itself, or a plain conv of it
    when the block changes size (``down`` halves at conv2, ``up`` doubles at conv1) or width."""

    def __init__(self, in_channels: int, out_channels: int, scale: str = "none") -> None:
        super().__init__()
        self.shortcut_func = (
            nn.Identity() if scale == "none" and in_channels == out_channels
            else ConvLayer(in_channels, out_channels, scale)
        )
        self.conv1 = ConvLayer(in_channels, out_channels, "up" if scale == "up" else "none", norm=True, activate=True)
        self.conv2 = ConvLayer(out_channels, out_channels, "down" if scale == "down" else "none", norm=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut_func(x) + self.conv2(self.conv1(x))


def _width(channels: int) -> int:
    return max(_CHANNEL_RANGE[0], min(channels, _CHANNEL_RANGE[1]))


@dataclass(frozen=True)
class ParseNetOutput:
    """``logits`` (B, 19, H, W) per-pixel class scores; ``image`` (B, 3, H, W) the picture head."""

    logits: torch.Tensor
    image: torch.Tensor


class ParseNet(nn.Module):
    """(B, 3, H, W) RGB normalised to [-1, 1] (H, W multiples of 16) -> :class:`ParseNetOutput`."""

    def __init__(self) -> None:
        super().__init__()
        widths = [_BASE_CHANNELS * 2 ** step for step in range(_SIZE_STEPS + 1)]
        self.encoder = nn.Sequential(
            ConvLayer(3, _BASE_CHANNELS),
            *(ResidualBlock(_width(a), _width(b), "down") for a, b in pairwise(widths)),
        )
        self.body = nn.Sequential(*(ResidualBlock(_width(widths[-1]), _width(widths[-1])) for _ in range(_BODY_BLOCKS)))
        self.decoder = nn.Sequential(
            *(ResidualBlock(_width(a), _width(b), "up") for a, b in pairwise(widths[::-1]))
        )
        self.out_img_conv = ConvLayer(_width(widths[0]), 3)
        self.out_mask_conv = ConvLayer(_width(widths[0]), PARSING_CLASSES)

    def forward(self, x: torch.Tensor) -> ParseNetOutput:
        features = self.encoder(x)
        decoded = self.decoder(features + self.body(features))
        return ParseNetOutput(self.out_mask_conv(decoded), self.out_img_conv(decoded))


def load_parsenet(path: str | os.PathLike, device: torch.device | str = "cpu") -> ParseNet:
    """A :class:`ParseNet` in eval mode with the weights of ``parsing_parsenet.pth``, on ``device``."""
    return load_network(ParseNet(), path, "parsenet", device)
