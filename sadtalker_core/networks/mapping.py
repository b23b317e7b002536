"""MappingNet: a 27-frame window of 3DMM coefficients -> head pose bins, translation and keypoint
expression offsets (SadTalker's bridge from 3DMM motion to face-vid2vid keypoints).

Two trained variants exist: ``coeff_nc`` 70 (expression 64 + angles 3 + translation 3;
``mapping_00229``, facerender.yaml) and 73 (plus the crop's scale and offset;
``mapping_00109``, facerender_still.yaml).  State-dict keys equal the official ``mapping`` entry.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from ..checkpoints import load_network
from ..config import MappingConfig


@dataclass(frozen=True)
class HeadPose:
    """Head pose and expression as predicted by MappingNet / HEEstimator (batch first).

    ``yaw``, ``pitch``, ``roll``: (bs, 66) bin logits; ``t``: (bs, 3) translation;
    ``exp``: (bs, 3 * num_kp) keypoint expression offsets.
    """

    yaw: torch.Tensor
    pitch: torch.Tensor
    roll: torch.Tensor
    t: torch.Tensor
    exp: torch.Tensor


class MappingNet(nn.Module):
    """(bs, coeff_nc, 27) coefficient windows -> :class:`HeadPose`."""

    def __init__(self, config: MappingConfig = MappingConfig()):
        super().__init__()
        self.coeff_nc = config.coeff_nc  # coefficients per frame of a window: 70 or 73
        self.layer = config.layer
        self.first = nn.Sequential(nn.Conv1d(config.coeff_nc, config.descriptor_nc, kernel_size=7, padding=0))
        for i in range(config.layer):
            # each dilated conv shortens the sequence by 6; the residual is cropped to match
            encoder = nn.Sequential(nn.LeakyReLU(0.1),
                                    nn.Conv1d(config.descriptor_nc, config.descriptor_nc, kernel_size=3, dilation=3))
            setattr(self, f"encoder{i}", encoder)
        self.pooling = nn.AdaptiveAvgPool1d(1)
        self.fc_roll = nn.Linear(config.descriptor_nc, config.num_bins)
        self.fc_pitch = nn.Linear(config.descriptor_nc, config.num_bins)
        self.fc_yaw = nn.Linear(config.descriptor_nc, config.num_bins)
        self.fc_t = nn.Linear(config.descriptor_nc, 3)
        self.fc_exp = nn.Linear(config.descriptor_nc, 3 * config.num_kp)

    def forward(self, windows: torch.Tensor) -> HeadPose:
        out = self.first(windows)
        for i in range(self.layer):
            out = getattr(self, f"encoder{i}")(out) + out[:, :, 3:-3]
        out = self.pooling(out).flatten(1)
        return HeadPose(yaw=self.fc_yaw(out), pitch=self.fc_pitch(out), roll=self.fc_roll(out),
                        t=self.fc_t(out), exp=self.fc_exp(out))


def load_mapping(path: str | os.PathLike, device: torch.device | str = "cpu", config: MappingConfig = MappingConfig()) -> MappingNet:
    """A :class:`MappingNet` in eval mode with the ``mapping`` weights of ``mapping_00229-model.pth.tar``
    (``coeff_nc`` 70) or ``mapping_00109-model.pth.tar`` (73); ``config`` must match the file, on ``device``."""
    return load_network(MappingNet(config), path, "mapping", device)
