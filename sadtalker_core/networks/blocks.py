"""Building blocks shared by the face-vid2vid renderer networks (KPDetector, DenseMotionNetwork,
OcclusionAwareSPADEGenerator).

Attribute names follow the official ``src/facerender/modules/util.py`` so that the official state
dicts load unchanged.  BatchNorm layers always run with their stored statistics at inference
(the official code uses SynchronizedBatchNorm, which in eval mode is plain BatchNorm).
"""
from __future__ import annotations

from enum import Enum

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.spectral_norm import SpectralNorm


class _Phase(Enum):
    """How one output phase of an axis of ``conv3x3(nearest_upsample(x))`` reads the source:
    row ``factor * a + p`` sees source rows a-1, a (p = 0: ``FIRST``), only a (inner phases:
    ``INNER``) or a, a+1 (p = factor - 1: ``LAST``); kernel taps on the same row add up."""

    FIRST = ((1.0, 0.0, 0.0), (0.0, 1.0, 1.0))  # taps (k0, k1 + k2), window from source row a-1
    INNER = ((1.0, 1.0, 1.0),)  # tap k0 + k1 + k2, window from row a
    LAST = ((1.0, 1.0, 0.0), (0.0, 0.0, 1.0))  # taps (k0 + k1, k2), window from row a

    @property
    def start(self) -> int:
        """Where the window starts in the source padded by 1."""
        return 0 if self is _Phase.FIRST else 1

    @property
    def taps(self) -> int:
        return len(self.value)


def _phase_kernels(weight: torch.Tensor, pairs: list[tuple[_Phase, _Phase]]) -> list[torch.Tensor]:
    """The (..., rows' taps, columns' taps) kernel of each (row phase, column phase) pair: every
    3x3 kernel times one 0/1 matrix (a single matmul, so the weights are read once)."""
    collapse = torch.cat([torch.kron(torch.tensor(r.value), torch.tensor(c.value)) for r, c in pairs])  # (taps, 9)
    flat = weight.reshape(-1, 9) @ collapse.t().to(weight)
    kernels, offset = [], 0
    for rows, cols in pairs:
        size = rows.taps * cols.taps
        kernels.append(flat[:, offset:offset + size].reshape(*weight.shape[:-2], rows.taps, cols.taps))
        offset += size
    return kernels


def _cached_phase_kernels(conv: nn.Conv2d | nn.Conv3d, pairs: list[tuple[_Phase, _Phase]]) -> list[torch.Tensor]:
    """:func:`_phase_kernels` of ``conv``'s weight, kept on the module while that weight is
    unchanged (same memory, dtype and version counter), so a render derives them once, not every frame.
    With autograd recording they are derived afresh (they belong to that graph)."""
    weight = conv.weight
    if torch.is_grad_enabled():
        return _phase_kernels(weight, pairs)
    # inference tensors (weights loaded under inference_mode) keep no version: they cannot be
    # changed in place outside inference_mode
    version = None if weight.is_inference() else weight._version
    key = (weight.data_ptr(), weight.dtype, version, tuple(pairs))
    cached = conv.__dict__.get("_phase_kernels")
    if cached is None or cached[0] != key:
        cached = conv.__dict__["_phase_kernels"] = (key, _phase_kernels(weight, pairs))
    return cached[1]


#: smallest source height / width :func:`conv_of_upsampled` splits into phases (measured on CPU:
#: 2x2 and 4x4 sources of the 3D hourglass ran 1.1-4x slower in phases, 8x8 and up 1.6-5x faster)
PHASES_MIN_SIZE = 8


def conv_of_upsampled(x: torch.Tensor, conv: nn.Conv2d | nn.Conv3d, factor: int) -> torch.Tensor:
    """``conv(F.interpolate(x, scale_factor=factor))`` with height and width (the last two axes)
    upsampled by nearest neighbour, computed on ``x`` itself.

    ``conv`` has a 3x3 (2D) or k x 3 x 3 (3D) kernel, stride 1, padding 1 on height and width.  A
    3x3 window over a nearest-upsampled map sees at most 2x2 distinct source pixels, so each output
    phase is a 1- or 2-tap convolution of the source with kernel rows / columns added up: the
    same sums with 2.25x (factor 2) to 5.8x (factor 4) fewer multiplications, and the upsampled
    input is never materialised.  Inner phases share one computation.  Sources smaller than
    ``PHASES_MIN_SIZE`` are upsampled and convolved as such: there the work is in the weights,
    which the phases would multiply.
    """
    if factor == 1:
        return conv(x)
    if min(x.shape[-2:]) < PHASES_MIN_SIZE:
        return conv(F.interpolate(x, scale_factor=(1,) * (x.dim() - 4) + (factor, factor)))
    weight = conv.weight
    if weight.shape[-2:] != (3, 3) or tuple(conv.padding[-2:]) != (1, 1) or any(s != 1 for s in conv.stride) \
            or any(d != 1 for d in conv.dilation) or conv.groups != 1 or conv.padding_mode != "zeros":
        raise ValueError("conv_of_upsampled needs a 3x3 (height, width) convolution with stride 1 and zero padding 1")
    height, width = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1))
    padding = (*conv.padding[:-2], 0, 0)  # height and width are padded above
    conv_nd = F.conv3d if x.dim() == 5 else F.conv2d
    phase_of = [_Phase.FIRST] + [_Phase.INNER] * (factor - 2) + [_Phase.LAST]
    pairs = [(rows, cols) for rows in dict.fromkeys(phase_of) for cols in dict.fromkeys(phase_of)]
    results = {}
    for (rows, cols), kernel in zip(pairs, _cached_phase_kernels(conv, pairs)):
        window = padded[..., rows.start:rows.start + height + rows.taps - 1, cols.start:cols.start + width + cols.taps - 1]
        results[rows, cols] = conv_nd(window, kernel, conv.bias, padding=padding)
    first = results[pairs[0]]
    out = torch.empty(*first.shape[:-2], height * factor, width * factor, dtype=first.dtype, device=first.device,
                      memory_format=_format_of(first))
    grid = out.unflatten(-1, (width, factor)).unflatten(-3, (height, factor))  # (..., h, f, w, f) view
    for p, rows in enumerate(phase_of):
        for q, cols in enumerate(phase_of):
            grid[..., p, :, q] = results[rows, cols]
    return out


def _format_of(t: torch.Tensor) -> torch.memory_format:
    """channels_last(_3d) when ``t`` is laid out that way, else contiguous."""
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous():
        return torch.channels_last
    if t.dim() == 5 and t.is_contiguous(memory_format=torch.channels_last_3d) and not t.is_contiguous():
        return torch.channels_last_3d
    return torch.contiguous_format


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
    """Conv3d 3x3x3 -> BatchNorm -> ReLU -> 2x2 average pooling of height and width (depth kept)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.conv = nn.Conv3d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm(self.conv(x)))
        # AvgPool3d((1, 2, 2)) as a 2D pooling of (depth * height, width): a view in both layouts,
        # keeps channels-last, and has bfloat16 kernels (avg_pool3d has none on CPU)
        pooled = F.avg_pool2d(out.flatten(2, 3), kernel_size=2)
        return pooled.unflatten(2, (out.shape[2], out.shape[3] // 2))


class UpBlock3d(nn.Module):
    """Nearest 2x upsampling of height and width (depth kept) -> Conv3d 3x3x3 -> BatchNorm -> ReLU.

    The upsampling and the convolution are one :func:`conv_of_upsampled` (same result, 2.25x
    fewer multiplications)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.conv = nn.Conv3d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(conv_of_upsampled(x, self.conv, 2)))


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
        kernel_size = 2 * round(sigma * 4) + 1  # odd: the blur is centred
        self.padding = kernel_size // 2  # zeros on every side keep the size before subsampling
        kernel = gaussian_kernel_2d(kernel_size, sigma)
        self.register_buffer("weight", kernel.view(1, 1, kernel_size, kernel_size).repeat(channels, 1, 1, 1))
        self.groups = channels
        self.step = int(1 / scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.pad(x, (self.padding,) * 4)
        out = F.conv2d(out, weight=self.weight, groups=self.groups)
        return out[:, :, ::self.step, ::self.step]


#: epsilon of the official parameter-free InstanceNorm2d
INSTANCE_NORM_EPS = 1e-5


def instance_norm(x: torch.Tensor) -> torch.Tensor:
    """Parameter-free instance norm (official ``InstanceNorm2d(affine=False)``), as a group norm with
    one channel per group: the same statistics, and unlike ``instance_norm`` it keeps a
    channels-last input channels-last."""
    return F.group_norm(x, x.shape[1], eps=INSTANCE_NORM_EPS)


class SPADE(nn.Module):
    """Spatially-adaptive normalisation: parameter-free instance norm of ``x``, then a per-pixel
    scale ``1 + gamma`` and shift ``beta`` predicted from the segmentation map ``seg``."""

    hidden = 128

    def __init__(self, norm_nc: int, label_nc: int):
        super().__init__()
        # (conv, ReLU) as in the official state dict; the ReLU is applied in place in modulate
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, self.hidden, kernel_size=3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(self.hidden, norm_nc, kernel_size=3, padding=1)
        self.mlp_beta = nn.Conv2d(self.hidden, norm_nc, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        return self.modulate(instance_norm(x), seg)

    def modulate(self, normalized: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """``normalized`` (= :func:`instance_norm` of the input, shared by SPADEs of one input)
        scaled and shifted by ``seg``.  ``seg`` is resized to its size by nearest neighbour; a map
        smaller by a whole factor is convolved without materialising the resize
        (:func:`conv_of_upsampled`)."""
        height, width = normalized.shape[-2:]
        factor = width // seg.shape[-1]
        if factor < 1 or tuple(seg.shape[-2:]) != (height / factor, width / factor):
            seg, factor = F.interpolate(seg, size=(height, width), mode="nearest"), 1
        actv = torch.relu_(conv_of_upsampled(seg, self.mlp_shared[0], factor))
        shift = self.mlp_beta(actv)
        scale = F.conv2d(actv, self.mlp_gamma.weight, self.mlp_gamma.bias + 1, padding=self.mlp_gamma.padding)
        del actv  # freed before the product: at 256x256 every map here is tens of MB per frame
        # normalized * (1 + gamma) + beta in one pass (the 1 added to gamma's bias), into beta
        return shift.addcmul_(normalized, scale)


def _leaky_(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 2e-1, inplace=True)


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
        normalized = instance_norm(x)  # norm_0 and norm_s normalise the same input
        x_s = self.conv_s(self.norm_s.modulate(normalized, seg)) if self.learned_shortcut else x
        dx = self.conv_0(_leaky_(self.norm_0.modulate(normalized, seg)))
        del normalized
        dx = self.conv_1(_leaky_(self.norm_1(dx, seg)))
        return dx.add_(x_s)


def fold_spectral_norm(module: nn.Module) -> nn.Module:
    """Freeze every spectral-normalised weight of ``module`` at its eval-mode value
    ``weight_orig / (u . weight_orig v)`` (stored u, v; no power iteration), removing the hook
    that recomputed it on every forward.  Same outputs; for inference (the state dict then holds
    plain ``weight`` keys, so load official files before folding)."""
    for sub in module.modules():
        for hook in list(sub._forward_pre_hooks.values()):
            if isinstance(hook, SpectralNorm):
                original = getattr(sub, hook.name + "_orig")
                nn.utils.remove_spectral_norm(sub, hook.name)
                # the folded weight takes the original's memory: no freed hole per layer
                setattr(sub, hook.name, nn.Parameter(original.detach().copy_(getattr(sub, hook.name)),
                                                     requires_grad=original.requires_grad))
    return module
