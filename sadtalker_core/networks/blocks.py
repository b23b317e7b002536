"""Building blocks shared by the face-vid2vid renderer networks (KPDetector, DenseMotionNetwork,
OcclusionAwareSPADEGenerator).

Attribute names follow the official ``src/facerender/modules/util.py`` so that the official state
dicts load unchanged.  BatchNorm layers always run with their stored statistics at inference
(the official code uses SynchronizedBatchNorm, which in eval mode is plain BatchNorm).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SameBlock2d(nn.Module):
    """Conv2d -> BatchNorm -> ReLU (or LeakyReLU 0.01), resolution preserved."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int = 3, padding: int = 1,
                 lrelu: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding)
        self.norm = nn.BatchNorm2d(out_features, affine=True)
        self.ac = nn.LeakyReLU() if lrelu else nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ac(self.norm(self.conv(x)))


class DownBlock2d(nn.Module):
    """Conv2d 3x3 -> BatchNorm -> ReLU -> 2x2 average pooling."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(out_features, affine=True)
        self.pool = nn.AvgPool2d(kernel_size=(2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(self.norm(self.conv(x))))


class DownBlock3d(nn.Module):
    """Conv3d 3x3x3 -> BatchNorm -> ReLU -> average pooling of height and width (depth kept)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.conv = nn.Conv3d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_features, affine=True)
        self.pool = nn.AvgPool3d(kernel_size=(1, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(self.norm(self.conv(x))))


class UpBlock3d(nn.Module):
    """Nearest 2x upsampling of height and width (depth kept) -> Conv3d 3x3x3 -> BatchNorm -> ReLU."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.conv = nn.Conv3d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.interpolate(x, scale_factor=(1, 2, 2))
        return F.relu(self.norm(self.conv(out)))


class ResBlock3d(nn.Module):
    """Pre-activation residual block: x + conv(relu(bn(conv(relu(bn(x)))))), 3D, shape preserved."""

    def __init__(self, features: int):
        super().__init__()
        self.conv1 = nn.Conv3d(features, features, kernel_size=3, padding=1)
        self.conv2 = nn.Conv3d(features, features, kernel_size=3, padding=1)
        self.norm1 = nn.BatchNorm3d(features, affine=True)
        self.norm2 = nn.BatchNorm3d(features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


def _hourglass_width(level: int, block_expansion: int, max_features: int) -> int:
    """Channels of the hourglass feature map at ``level`` (level 0 = the input side)."""
    return min(max_features, block_expansion * (2 ** level))


class HourglassEncoder(nn.Module):
    """``num_blocks`` DownBlock3d; returns the input and every block's output (the skip connections)."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        self.down_blocks = nn.ModuleList(
            DownBlock3d(in_features if i == 0 else _hourglass_width(i, block_expansion, max_features),
                        _hourglass_width(i + 1, block_expansion, max_features))
            for i in range(num_blocks)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class HourglassDecoder(nn.Module):
    """UpBlock3d per level, each followed by concatenation with the encoder's skip, then a final
    Conv3d -> BatchNorm -> ReLU over ``block_expansion + in_features`` channels."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        self.up_blocks = nn.ModuleList(
            UpBlock3d((1 if i == num_blocks - 1 else 2) * _hourglass_width(i + 1, block_expansion, max_features),
                      _hourglass_width(i, block_expansion, max_features))
            for i in reversed(range(num_blocks))
        )
        self.out_filters = block_expansion + in_features
        self.conv = nn.Conv3d(self.out_filters, self.out_filters, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(self.out_filters, affine=True)

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        out = skips[-1]
        for block, skip in zip(self.up_blocks, reversed(skips[:-1])):
            out = torch.cat([block(out), skip], dim=1)
        return F.relu(self.norm(self.conv(out)))


class Hourglass(nn.Module):
    """3D U-Net: HourglassEncoder + HourglassDecoder (output has ``out_filters`` channels)."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        self.encoder = HourglassEncoder(block_expansion, in_features, num_blocks, max_features)
        self.decoder = HourglassDecoder(block_expansion, in_features, num_blocks, max_features)
        self.out_filters = self.decoder.out_filters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def gaussian_kernel_2d(size: int, sigma: float) -> torch.Tensor:
    """Normalised separable gaussian ``size x size`` kernel, computed in float32 as the official
    AntiAliasInterpolation2d does (its value is also stored in the checkpoints)."""
    grid = torch.arange(size, dtype=torch.float32)
    mean = (size - 1) / 2
    profile = torch.exp(-(grid - mean) ** 2 / (2 * sigma ** 2))
    kernel = profile[:, None] * profile[None, :]
    return kernel / torch.sum(kernel)


class AntiAliasInterpolation2d(nn.Module):
    """Band-limited downsampling by ``scale`` (gaussian blur, then keep every 1/scale-th pixel).

    The depthwise gaussian ``weight`` is a buffer saved in the official checkpoints; it is rebuilt
    here only so that a freshly constructed module is usable before loading.
    """

    def __init__(self, channels: int, scale: float):
        super().__init__()
        sigma = (1 / scale - 1) / 2
        kernel_size = 2 * round(sigma * 4) + 1
        self.ka = kernel_size // 2
        self.kb = self.ka - 1 if kernel_size % 2 == 0 else self.ka
        kernel = gaussian_kernel_2d(kernel_size, sigma)
        self.register_buffer("weight", kernel.view(1, 1, kernel_size, kernel_size).repeat(channels, 1, 1, 1))
        self.groups = channels
        self.step = int(1 / scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.pad(x, (self.ka, self.kb, self.ka, self.kb))
        out = F.conv2d(out, weight=self.weight, groups=self.groups)
        return out[:, :, ::self.step, ::self.step]


class SPADE(nn.Module):
    """Spatially-adaptive normalisation: parameter-free instance norm of ``x``, then a per-pixel
    scale ``1 + gamma`` and shift ``beta`` predicted from the segmentation map ``seg``."""

    hidden = 128

    def __init__(self, norm_nc: int, label_nc: int):
        super().__init__()
        self.param_free_norm = nn.InstanceNorm2d(norm_nc, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, self.hidden, kernel_size=3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(self.hidden, norm_nc, kernel_size=3, padding=1)
        self.mlp_beta = nn.Conv2d(self.hidden, norm_nc, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        normalized = self.param_free_norm(x)
        if seg.shape[2:] != x.shape[2:]:  # nearest resize to x's size (a no-op when already there)
            seg = F.interpolate(seg, size=x.shape[2:], mode="nearest")
        actv = self.mlp_shared(seg)
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


def _leaky(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 2e-1)


class SPADEResnetBlock(nn.Module):
    """Residual block of two SPADE -> LeakyReLU(0.2) -> spectral-normalised Conv2d stages, with a
    learned SPADE + 1x1 conv shortcut when the channel count changes (official norm_G
    ``spadespectralinstance``).

    Spectral norm is torch's ``spectral_norm`` (``weight_orig`` / ``weight_u`` / ``weight_v`` in
    the state dict); in eval mode it divides by ``u . (W v)`` with the stored vectors.
    """

    def __init__(self, fin: int, fout: int, label_nc: int):
        super().__init__()
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        self.conv_0 = nn.utils.spectral_norm(nn.Conv2d(fin, fmiddle, kernel_size=3, padding=1))
        self.conv_1 = nn.utils.spectral_norm(nn.Conv2d(fmiddle, fout, kernel_size=3, padding=1))
        self.norm_0 = SPADE(fin, label_nc)
        self.norm_1 = SPADE(fmiddle, label_nc)
        if self.learned_shortcut:
            self.conv_s = nn.utils.spectral_norm(nn.Conv2d(fin, fout, kernel_size=1, bias=False))
            self.norm_s = SPADE(fin, label_nc)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        x_s = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(_leaky(self.norm_0(x, seg)))
        dx = self.conv_1(_leaky(self.norm_1(dx, seg)))
        return x_s + dx
