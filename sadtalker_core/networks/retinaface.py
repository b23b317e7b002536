"""RetinaFace-ResNet50 face detector, as facexlib's ``RetinaFace('resnet50').detect_faces`` runs it for SadTalker.

Network: a ResNet-50 trunk (C3, C4, C5 = layer2..4), a 3-level FPN, one SSH context module per
level and 1x1-conv heads giving, for 2 anchors per cell, class logits, box offsets and 5 landmark
offsets.  Parameter names equal the official state dict (``body.layer2.0.conv1.weight``,
``fpn.output1.0.weight``, ``ssh1.conv7x7_3.1.running_var``, ``ClassHead.0.conv1x1.weight``, ...),
so ``detection_Resnet50_Final.pth`` loads unchanged (its DataParallel ``module.`` prefix is
stripped by :mod:`sadtalker_core.checkpoints`).

Behaviour kept from the official call ``detect_faces(img, 0.97)`` (``use_origin_size=True``):
the picture is used at its own size, and its channels go in as they come: SadTalker hands over an
RGB array while facexlib expects BGR, so the BGR mean (104, 117, 123) is subtracted from R, G, B
(0..255 scale, no /255).  Post-processing: anchors (priors) per level, row, column, anchor size;
SSD decoding with variances (0.1, 0.2); ``score > threshold`` (strict); sort by score; NMS at IoU
0.4 with areas ``(x2-x1)*(y2-y1)`` (no +1); boxes are not clipped to the picture.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_network
from ..precision import float32_arithmetic
from .recon_net import ResNet50Features

#: The mean facexlib subtracts (meant for B, G, R; applied to whatever channel order comes in).
PIXEL_MEAN = (104.0, 117.0, 123.0)
#: SadTalker's detection threshold (``Preprocesser.get_landmark``) and facexlib's NMS IoU.
SADTALKER_SCORE_THRESHOLD = 0.97
NMS_IOU_THRESHOLD = 0.4
_CHANNELS = 256  # FPN / SSH width
_ANCHORS = 2  # anchors per feature-map cell


@dataclass(frozen=True)
class AnchorConfig:
    """Prior-box layout of the ResNet-50 model: per pyramid level a stride and two anchor sizes."""

    min_sizes: tuple[tuple[int, ...], ...] = ((16, 32), (64, 128), (256, 512))
    steps: tuple[int, ...] = (8, 16, 32)
    variances: tuple[float, float] = (0.1, 0.2)


def _conv_bn(in_channels: int, out_channels: int, kernel: int, relu: bool) -> nn.Sequential:
    """Conv (no bias, same padding) -> BatchNorm [-> ReLU]: indices 0 and 1 carry the weights."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class FPN(nn.Module):
    """Lateral 1x1 convs to 256 channels, top-down nearest upsampling + add, 3x3 merge convs."""

    def __init__(self, in_channels: tuple[int, int, int], out_channels: int = _CHANNELS) -> None:
        super().__init__()
        self.output1 = _conv_bn(in_channels[0], out_channels, 1, relu=True)
        self.output2 = _conv_bn(in_channels[1], out_channels, 1, relu=True)
        self.output3 = _conv_bn(in_channels[2], out_channels, 1, relu=True)
        self.merge1 = _conv_bn(out_channels, out_channels, 3, relu=True)
        self.merge2 = _conv_bn(out_channels, out_channels, 3, relu=True)

    def forward(self, c3: torch.Tensor, c4: torch.Tensor, c5: torch.Tensor) -> tuple[torch.Tensor, ...]:
        p5 = self.output3(c5)
        p4 = self.merge2(self.output2(c4) + F.interpolate(p5, size=c4.shape[-2:], mode="nearest"))
        p3 = self.merge1(self.output1(c3) + F.interpolate(p4, size=c3.shape[-2:], mode="nearest"))
        return p3, p4, p5


class SSH(nn.Module):
    """Single-stage headless context module: 3x3, 5x5 (two 3x3) and 7x7 (three 3x3) branches,
    concatenated to 1/2 + 1/4 + 1/4 of the channels, then ReLU."""

    def __init__(self, channels: int = _CHANNELS) -> None:
        super().__init__()
        self.conv3X3 = _conv_bn(channels, channels // 2, 3, relu=False)
        self.conv5X5_1 = _conv_bn(channels, channels // 4, 3, relu=True)
        self.conv5X5_2 = _conv_bn(channels // 4, channels // 4, 3, relu=False)
        self.conv7X7_2 = _conv_bn(channels // 4, channels // 4, 3, relu=True)
        self.conv7x7_3 = _conv_bn(channels // 4, channels // 4, 3, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch5_1 = self.conv5X5_1(x)
        branch7_2 = self.conv7X7_2(branch5_1)
        out = torch.cat([self.conv3X3(x), self.conv5X5_2(branch5_1), self.conv7x7_3(branch7_2)], dim=1)
        return F.relu(out)


class AnchorHead(nn.Module):
    """1x1 conv predicting ``values`` numbers per anchor; output (B, H*W*anchors, values) in
    row, column, anchor order (NCHW -> NHWC)."""

    def __init__(self, values: int, channels: int = _CHANNELS, anchors: int = _ANCHORS) -> None:
        super().__init__()
        self.values = values
        self.conv1x1 = nn.Conv2d(channels, anchors * values, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1x1(x).permute(0, 2, 3, 1)
        return out.reshape(out.shape[0], -1, self.values)


@dataclass(frozen=True)
class RawDetections:
    """Head outputs for every anchor of every level: ``loc`` (B, N, 4), ``conf_logits`` (B, N, 2)
    (background, face) and ``landms`` (B, N, 10)."""

    loc: torch.Tensor
    conf_logits: torch.Tensor
    landms: torch.Tensor


class RetinaFace(nn.Module):
    """The detection network: (B, 3, H, W) mean-subtracted 0..255 pixels -> :class:`RawDetections`."""

    def __init__(self, anchors: AnchorConfig = AnchorConfig()) -> None:
        super().__init__()
        self.anchors = anchors
        self.body = ResNet50Features()
        self.fpn = FPN((512, 1024, 2048))
        self.ssh1 = SSH()
        self.ssh2 = SSH()
        self.ssh3 = SSH()
        self.ClassHead = nn.ModuleList(AnchorHead(2) for _ in range(3))
        self.BboxHead = nn.ModuleList(AnchorHead(4) for _ in range(3))
        self.LandmarkHead = nn.ModuleList(AnchorHead(10) for _ in range(3))

    def _trunk(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ResNet-50 stage outputs C3, C4, C5 (strides 8, 16, 32)."""
        body = self.body
        x = body.layer1(body.maxpool(body.relu(body.bn1(body.conv1(x)))))
        c3 = body.layer2(x)
        c4 = body.layer3(c3)
        return c3, c4, body.layer4(c4)

    def forward(self, x: torch.Tensor) -> RawDetections:
        p3, p4, p5 = self.fpn(*self._trunk(x))
        features = (self.ssh1(p3), self.ssh2(p4), self.ssh3(p5))

        def run(heads: nn.ModuleList) -> torch.Tensor:
            return torch.cat([head(f) for head, f in zip(heads, features)], dim=1)

        return RawDetections(run(self.BboxHead), run(self.ClassHead), run(self.LandmarkHead))

    @torch.inference_mode()
    @float32_arithmetic()
    def detect(
        self,
        image: np.ndarray,
        score_threshold: float = SADTALKER_SCORE_THRESHOLD,
        nms_threshold: float = NMS_IOU_THRESHOLD,
    ) -> np.ndarray:
        """Detections (K, 15) float32 of one (H, W, 3) uint8 picture, best score first: x1, y1, x2, y2,
        score, then 5 landmark (x, y) pairs; as ``detect_faces(image, score_threshold)``."""
        device = next(self.parameters()).device
        raw = self(detector_input(image).to(device))
        height, width = image.shape[:2]
        priors = prior_boxes(height, width, self.anchors).to(device)
        decoded = decode(raw, priors, height, width, self.anchors.variances)
        return select(decoded, score_threshold, nms_threshold).dets


def detector_input(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 minus :data:`PIXEL_MEAN`, channels in the given order."""
    pixels = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
    return pixels - torch.tensor(PIXEL_MEAN, dtype=torch.float32).view(1, 3, 1, 1)


def prior_boxes(height: int, width: int, anchors: AnchorConfig = AnchorConfig()) -> torch.Tensor:
    """Anchors (N, 4) as (cx, cy, w, h) relative to the picture size, in level, row, column, size order.

    Computed in float64 (the reference builds a Python float list) and rounded to float32; not clipped.
    """
    levels = []
    for step, sizes in zip(anchors.steps, anchors.min_sizes):
        rows, cols = math.ceil(height / step), math.ceil(width / step)
        cx = (np.arange(cols) + 0.5) * step / width
        cy = (np.arange(rows) + 0.5) * step / height
        grid = np.empty((rows, cols, len(sizes), 4), dtype=np.float64)
        grid[..., 0] = cx[None, :, None]
        grid[..., 1] = cy[:, None, None]
        grid[..., 2] = np.array(sizes, dtype=np.float64) / width
        grid[..., 3] = np.array(sizes, dtype=np.float64) / height
        levels.append(grid.reshape(-1, 4))
    return torch.from_numpy(np.concatenate(levels).astype(np.float32))


@dataclass(frozen=True)
class DecodedDetections:
    """Every anchor of one picture decoded to pixels: ``boxes`` (N, 4) x1y1x2y2, ``landmarks``
    (N, 10) as 5 (x, y) pairs, ``scores`` (N,) face probability."""

    boxes: torch.Tensor
    landmarks: torch.Tensor
    scores: torch.Tensor


def decode(
    raw: RawDetections, priors: torch.Tensor, height: int, width: int, variances: tuple[float, float] = (0.1, 0.2)
) -> DecodedDetections:
    """SSD decoding of the first picture of ``raw`` against ``priors``, scaled to pixels (float32)."""
    loc, landms = raw.loc[0], raw.landms[0]
    centers, sizes = priors[:, :2], priors[:, 2:]
    box_centers = centers + loc[:, :2] * variances[0] * sizes
    box_sizes = sizes * torch.exp(loc[:, 2:] * variances[1])
    top_left = box_centers - box_sizes / 2
    boxes = torch.cat([top_left, box_sizes + top_left], dim=1)
    points = torch.cat([centers + landms[:, 2 * k:2 * k + 2] * variances[0] * sizes for k in range(5)], dim=1)
    scale = torch.tensor([width, height], dtype=torch.float32, device=loc.device)
    scores = torch.softmax(raw.conf_logits[0], dim=-1)[:, 1]
    return DecodedDetections(boxes * scale.repeat(2), points * scale.repeat(5), scores)


@dataclass(frozen=True)
class Selection:
    """Result of thresholding + NMS: ``candidates`` (anchor indices with score > threshold, best
    first), ``keep`` (indices into ``candidates`` kept by NMS, in order) and ``dets`` (K, 15) float32."""

    candidates: np.ndarray
    keep: np.ndarray
    dets: np.ndarray


def select(decoded: DecodedDetections, score_threshold: float, nms_threshold: float = NMS_IOU_THRESHOLD) -> Selection:
    """Keep anchors scoring strictly above ``score_threshold``, sort them by score and run NMS.

    The sort is facexlib's ``scores.argsort()[::-1]`` on the float32 scores above the threshold,
    called as it is: numpy's default sort is not stable and the order it gives equal scores
    depends on the sort kernel numpy picks for the CPU (AVX-512, AVX2, baseline), so only the very
    same call keeps tied candidates, and so the detections NMS keeps, in the official order on
    every machine.  NMS then re-sorts stably, as torchvision's does.
    """
    boxes = decoded.boxes.detach().cpu().numpy()
    landmarks = decoded.landmarks.detach().cpu().numpy()
    scores = decoded.scores.detach().cpu().float().numpy()
    above = np.flatnonzero(scores > score_threshold)
    candidates = above[scores[above].argsort()[::-1]]
    keep = nms(torch.from_numpy(boxes[candidates]), torch.from_numpy(scores[candidates]), nms_threshold).numpy()
    chosen = candidates[keep]
    dets = np.concatenate([boxes[chosen], scores[chosen, None], landmarks[chosen]], axis=1).astype(np.float32)
    return Selection(candidates, keep, dets)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression with the arithmetic of ``torchvision.ops.nms`` on CPU.

    Boxes (N, 4) x1y1x2y2; areas ``(x2-x1)*(y2-y1)``; a box is dropped when its IoU with a kept,
    higher-scoring box exceeds ``iou_threshold`` (compared in float64, as torchvision does).
    Returns the kept indices (int64), best score first.
    """
    order = torch.sort(scores, descending=True, stable=True).indices
    x1, y1, x2, y2 = boxes[order].unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    kept = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        kept.append(i)
        rest = slice(i + 1, None)
        width = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
        height = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = width * height
        iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest] |= iou.double() > iou_threshold
    return order[torch.tensor(kept, dtype=torch.long)]


def load_retinaface(path: str | os.PathLike, device: torch.device | str = "cpu") -> RetinaFace:
    """A :class:`RetinaFace` in eval mode with the weights of ``detection_Resnet50_Final.pth``, on ``device``."""
    return load_network(RetinaFace(), path, "retinaface", device)
