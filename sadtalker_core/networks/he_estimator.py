"""HEEstimator: face-vid2vid's head pose / expression regressor (ResNet-style bottlenecks).

SadTalker loads it (from ``facevid2vid_00189``; the safetensors bundle has none) but
``make_animation`` never calls it: head pose comes from MappingNet.  Built from
``he_estimator_params`` of facerender.yaml; state-dict keys equal the official ``he_estimator``.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_network
from ..config import HEEstimatorConfig
from .mapping import HeadPose


class ResBottleneck(nn.Module):
    """1x1 -> 3x3 (stride) -> 1x1 bottleneck with BatchNorms; strided blocks get a 1x1 conv + BN skip."""

    def __init__(self, in_features: int, stride: int):
        super().__init__()
        mid = in_features // 4
        self.conv1 = nn.Conv2d(in_features, mid, kernel_size=1)
        self.conv2 = nn.Conv2d(mid, mid, kernel_size=3, padding=1, stride=stride)
        self.conv3 = nn.Conv2d(mid, in_features, kernel_size=1)
        self.norm1 = nn.BatchNorm2d(mid, affine=True)
        self.norm2 = nn.BatchNorm2d(mid, affine=True)
        self.norm3 = nn.BatchNorm2d(in_features, affine=True)
        self.stride = stride
        if stride != 1:
            self.skip = nn.Conv2d(in_features, in_features, kernel_size=1, stride=stride)
            self.norm4 = nn.BatchNorm2d(in_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm1(self.conv1(x)))
        out = F.relu(self.norm2(self.conv2(out)))
        out = self.norm3(self.conv3(out))
        if self.stride != 1:
            x = self.norm4(self.skip(x))
        return F.relu(out + x)


def _bottlenecks(prefix: str, features: int, count: int) -> nn.Sequential:
    stack = nn.Sequential()
    for i in range(count):
        stack.add_module(f"{prefix}_{i}", ResBottleneck(features, stride=1))
    return stack


class HEEstimator(nn.Module):
    """Image (bs, 3, 256, 256) -> :class:`HeadPose`."""

    def __init__(self, config: HEEstimatorConfig = HEEstimatorConfig()):
        super().__init__()
        c = config.block_expansion
        self.conv1 = nn.Conv2d(config.image_channel, c, kernel_size=7, padding=3, stride=2)
        self.norm1 = nn.BatchNorm2d(c, affine=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(c, 256, kernel_size=1)
        self.norm2 = nn.BatchNorm2d(256, affine=True)
        self.block1 = _bottlenecks("b1", 256, 3)
        self.conv3 = nn.Conv2d(256, 512, kernel_size=1)
        self.norm3 = nn.BatchNorm2d(512, affine=True)
        self.block2 = ResBottleneck(512, stride=2)
        self.block3 = _bottlenecks("b3", 512, 3)
        self.conv4 = nn.Conv2d(512, 1024, kernel_size=1)
        self.norm4 = nn.BatchNorm2d(1024, affine=True)
        self.block4 = ResBottleneck(1024, stride=2)
        self.block5 = _bottlenecks("b5", 1024, 5)
        self.conv5 = nn.Conv2d(1024, 2048, kernel_size=1)
        self.norm5 = nn.BatchNorm2d(2048, affine=True)
        self.block6 = ResBottleneck(2048, stride=2)
        self.block7 = _bottlenecks("b7", 2048, 2)
        self.fc_roll = nn.Linear(2048, config.num_bins)
        self.fc_pitch = nn.Linear(2048, config.num_bins)
        self.fc_yaw = nn.Linear(2048, config.num_bins)
        self.fc_t = nn.Linear(2048, 3)
        self.fc_exp = nn.Linear(2048, 3 * config.num_kp)

    def forward(self, image: torch.Tensor) -> HeadPose:
        out = self.maxpool(F.relu(self.norm1(self.conv1(image))))
        out = self.block1(F.relu(self.norm2(self.conv2(out))))
        out = self.block3(self.block2(F.relu(self.norm3(self.conv3(out)))))
        out = self.block5(self.block4(F.relu(self.norm4(self.conv4(out)))))
        out = self.block7(self.block6(F.relu(self.norm5(self.conv5(out)))))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        # The official forward reads yaw from fc_roll and roll from fc_yaw; kept for checkpoint fidelity.
        return HeadPose(yaw=self.fc_roll(out), pitch=self.fc_pitch(out), roll=self.fc_yaw(out),
                        t=self.fc_t(out), exp=self.fc_exp(out))


def load_he_estimator(path: str | os.PathLike, device: torch.device | str = "cpu", config: HEEstimatorConfig = HEEstimatorConfig()) -> HEEstimator:
    """A :class:`HEEstimator` in eval mode with the ``he_estimator`` weights of
    ``facevid2vid_00189-model.pth.tar`` (the safetensors bundles hold none), on ``device``."""
    return load_network(HEEstimator(config), path, "he_estimator", device)
