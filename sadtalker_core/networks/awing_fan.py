"""AWing FAN: 98-point WFLW landmark heatmaps from a face crop (SadTalker's ``my_awing_arch.FAN(4, 98)``).

Network: a CoordConv stem (input plus row, column and radius channels) down to 64x64, then 4
stacked depth-4 hourglasses.  Each stack predicts 99 heatmaps (98 landmarks + 1 boundary map);
from the second stack on, the CoordConv in front of the hourglass also gets the row / column
channels masked where ``clamp(previous boundary map, 0, 1) > 0.05``.  Parameter names equal the
official state dict (``conv1.conv.weight``, ``m0.b2_plus_1.conv3.weight``, ``top_m_3.bn1.bias``,
``l3.weight``, ``al2.bias``, ...), so the ``state_dict`` entry of ``alignment_WFLW_4HG.pth`` loads
unchanged.

Also here: the heatmap -> point decoding of ``calculate_points`` with its quirks, and facexlib's
98 -> 68 landmark mapping.
"""
from __future__ import annotations

import os

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_network
from ..precision import float32_arithmetic

FAN_INPUT_SIZE = 256
HEATMAP_SIZE = 64
NUM_LANDMARKS = 98
_STACKS = 4
_HOURGLASS_DEPTH = 4
_FEATURES = 256


def coordinate_channels(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(1, 1, size, size) float32 maps: row coordinate and column coordinate in [-1, 1] (in this
    order, as the official AddCoords stacks them), and the radius divided by its maximum."""
    ramp = torch.arange(size, dtype=torch.float32, device=device) / (size - 1) * 2 - 1
    rows = ramp.view(1, 1, size, 1).expand(1, 1, size, size)
    cols = ramp.view(1, 1, 1, size).expand(1, 1, size, size)
    radius = torch.sqrt(rows.pow(2) + cols.pow(2))
    return rows, cols, radius / radius.max()


class CoordConv(nn.Module):
    """Conv over the input with coordinate channels appended: row, column, radius, and, when a
    previous heatmap stack is given, row / column masked by its boundary (last) channel."""

    def __init__(self, size: int, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 with_boundary: bool = False) -> None:
        super().__init__()
        self.size = size
        extra = 3 + (2 if with_boundary else 0)
        self.conv = nn.Conv2d(in_channels + extra, out_channels, kernel, stride=stride, padding=kernel // 2)

    def forward(self, x: torch.Tensor, heatmaps: torch.Tensor | None = None) -> torch.Tensor:
        batch = x.shape[0]
        rows, cols, radius = (c.expand(batch, -1, -1, -1) for c in coordinate_channels(self.size, x.device))
        channels = [x, rows, cols, radius]
        if heatmaps is not None:
            on_boundary = heatmaps[:, -1:].clamp(0.0, 1.0) > 0.05
            channels += [torch.where(on_boundary, rows, 0.0), torch.where(on_boundary, cols, 0.0)]
        return self.conv(torch.cat(channels, dim=1))


class ConvBlock(nn.Module):
    """Pre-activation residual block whose three 3x3 convs give 1/2, 1/4, 1/4 of the output
    channels, concatenated; the shortcut is BN-ReLU-1x1 conv when the width changes."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        half, quarter = out_channels // 2, out_channels // 4
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, half, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(half)
        self.conv2 = nn.Conv2d(half, quarter, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(quarter)
        self.conv3 = nn.Conv2d(quarter, quarter, 3, padding=1, bias=False)
        self.downsample: nn.Sequential | None = None
        if in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True), nn.Conv2d(in_channels, out_channels, 1, bias=False)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = self.conv1(F.relu(self.bn1(x)))
        out2 = self.conv2(F.relu(self.bn2(out1)))
        out3 = self.conv3(F.relu(self.bn3(out2)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.cat([out1, out2, out3], dim=1) + shortcut


class HourGlass(nn.Module):
    """CoordConv 1x1 then a recursive hourglass: at each level an upper ConvBlock at full
    resolution plus (avg-pool -> ConvBlock -> deeper level -> ConvBlock -> nearest x2)."""

    def __init__(self, depth: int = _HOURGLASS_DEPTH, features: int = _FEATURES, first: bool = False) -> None:
        super().__init__()
        self.depth = depth
        self.coordconv = CoordConv(HEATMAP_SIZE, features, features, 1, with_boundary=not first)
        for level in range(depth, 0, -1):
            self.add_module(f"b1_{level}", ConvBlock(features, features))
            self.add_module(f"b2_{level}", ConvBlock(features, features))
            self.add_module(f"b3_{level}", ConvBlock(features, features))
        self.add_module("b2_plus_1", ConvBlock(features, features))

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        upper = self._modules[f"b1_{level}"](x)
        lower = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        lower = self._level(level - 1, lower) if level > 1 else self._modules["b2_plus_1"](lower)
        lower = self._modules[f"b3_{level}"](lower)
        return upper + F.interpolate(lower, scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor, heatmaps: torch.Tensor | None) -> torch.Tensor:
        return self._level(self.depth, self.coordconv(x, heatmaps))


class AwingFAN(nn.Module):
    """(B, 3, 256, 256) BGR in [0, 1] -> one (B, 99, 64, 64) heatmap stack per hourglass
    (98 landmarks + boundary); the last stack is the prediction."""

    def __init__(self, stacks: int = _STACKS, num_landmarks: int = NUM_LANDMARKS) -> None:
        super().__init__()
        self.stacks = stacks
        self.conv1 = CoordConv(FAN_INPUT_SIZE, 3, 64, 7, stride=2)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = ConvBlock(64, 128)
        self.conv3 = ConvBlock(128, 128)
        self.conv4 = ConvBlock(128, _FEATURES)
        for i in range(stacks):
            self.add_module(f"m{i}", HourGlass(first=i == 0))
            self.add_module(f"top_m_{i}", ConvBlock(_FEATURES, _FEATURES))
            self.add_module(f"conv_last{i}", nn.Conv2d(_FEATURES, _FEATURES, 1))
            self.add_module(f"bn_end{i}", nn.BatchNorm2d(_FEATURES))
            self.add_module(f"l{i}", nn.Conv2d(_FEATURES, num_landmarks + 1, 1))
            if i < stacks - 1:
                self.add_module(f"bl{i}", nn.Conv2d(_FEATURES, _FEATURES, 1))
                self.add_module(f"al{i}", nn.Conv2d(num_landmarks + 1, _FEATURES, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.conv4(self.conv3(F.avg_pool2d(self.conv2(x), 2, stride=2)))
        stacks: list[torch.Tensor] = []
        for i in range(self.stacks):
            features = self._modules[f"top_m_{i}"](self._modules[f"m{i}"](x, stacks[-1] if stacks else None))
            features = F.relu(self._modules[f"bn_end{i}"](self._modules[f"conv_last{i}"](features)))
            stacks.append(self._modules[f"l{i}"](features))
            if i < self.stacks - 1:
                x = x + self._modules[f"bl{i}"](features) + self._modules[f"al{i}"](stacks[-1])
        return stacks


def fan_image(crop_rgb: np.ndarray) -> np.ndarray:
    """An RGB uint8 face crop as FAN sees it: (256, 256, 3) uint8, bilinear resize (cv2 INTER_LINEAR),
    channels flipped to BGR."""
    return np.ascontiguousarray(cv2.resize(crop_rgb, (FAN_INPUT_SIZE, FAN_INPUT_SIZE))[..., ::-1])


def fan_input(crop_rgb: np.ndarray) -> torch.Tensor:
    """An RGB uint8 face crop -> (1, 3, 256, 256) float32 network input: :func:`fan_image` / 255."""
    return (torch.from_numpy(fan_image(crop_rgb)).permute(2, 0, 1).float() / 255.0).unsqueeze(0)


def calculate_points(heatmaps: np.ndarray) -> np.ndarray:
    """(B, N, H, W) heatmaps -> (B, N, 2) float64 (x, y) points in heatmap pixels.

    Argmax of each flattened map, + 0.5, + 0.25 towards the larger flat neighbour in x (index
    +-1, so at columns 0 / W-1 the neighbour is on the adjacent row) and in y (index +-W).  Kept
    from the reference: if ANY map of the batch has its argmax on the last row (index + W >= H*W),
    the "below" value of EVERY map is the last element; if ANY has index - W <= 0, the "above"
    value of every map is the first element.  Where the reference indexes past the end (argmax
    at the very last element), the neighbour wraps to the first element instead of raising.
    """
    batch, count, height, width = heatmaps.shape
    size = height * width
    flat = heatmaps.reshape(batch * count, size)
    index = flat.argmax(axis=1)
    rows = np.arange(batch * count)

    def at(positions: np.ndarray) -> np.ndarray:
        return flat[rows, np.mod(positions, size)]

    below = flat[:, size - 1] if np.any(index + width >= size) else at(index + width)
    above = flat[:, 0] if np.any(index - width <= 0) else at(index - width)
    step = np.sign(np.stack([at(index + 1) - at(index - 1), below - above], axis=1)) * 0.25
    points = np.stack([index % width, index // width], axis=1).astype(np.float64) + step + 0.5
    return points.reshape(batch, count, 2)


def _landmark_pairs_98_to_68() -> np.ndarray:
    """(68, 2) indices into the 98 WFLW points; each 68-point landmark is the mean of its pair."""
    pairs = [(2 * k, 2 * k) for k in range(17)]  # jaw: every other contour point
    pairs += [(33, 33), (34, 41), (35, 40), (36, 39), (37, 38)]  # left eyebrow: upper/lower edge means
    pairs += [(42, 50), (43, 49), (44, 48), (45, 47), (46, 46)]  # right eyebrow
    pairs += [(i, i) for i in range(51, 60)]  # nose
    pairs += [(i, i) for i in (60, 61, 63, 64, 65, 67)]  # left eye
    pairs += [(i, i) for i in (68, 69, 71, 72, 73, 75)]  # right eye
    pairs += [(i, i) for i in range(76, 96)]  # mouth
    return np.array(pairs, dtype=np.int64)


LANDMARK_PAIRS_98_TO_68 = _landmark_pairs_98_to_68()
LANDMARK_PAIRS_98_TO_68.setflags(write=False)


def landmark_98_to_68(points98: np.ndarray) -> np.ndarray:
    """(98, 2) WFLW points -> (68, 2) float32 iBUG points (means taken in the input's precision)."""
    first, second = LANDMARK_PAIRS_98_TO_68.T
    return ((points98[first] + points98[second]) / 2).astype(np.float32)


def points_in_crop(heatmaps: np.ndarray, crop_height: int, crop_width: int) -> np.ndarray:
    """(1, 98, 64, 64) landmark heatmaps of a crop -> 98 (x, y) float64 points in crop pixels."""
    scale = (crop_width / HEATMAP_SIZE, crop_height / HEATMAP_SIZE)
    return calculate_points(heatmaps).reshape(-1, 2) * scale


@torch.inference_mode()
@float32_arithmetic()
def crop_landmarks98(net: AwingFAN, crop_rgb: np.ndarray) -> np.ndarray:
    """``FAN.get_landmarks``: 98 (x, y) float64 points in the pixels of an RGB uint8 face crop."""
    device = next(net.parameters()).device
    heatmaps = net(fan_input(crop_rgb).to(device))[-1][:, :-1]
    return points_in_crop(heatmaps.float().cpu().numpy(), *crop_rgb.shape[:2])


def load_awing_fan(path: str | os.PathLike, device: torch.device | str = "cpu") -> AwingFAN:
    """An :class:`AwingFAN` in eval mode with the weights of ``alignment_WFLW_4HG.pth``, on ``device``."""
    return load_network(AwingFAN(), path, "awing_fan", device)
