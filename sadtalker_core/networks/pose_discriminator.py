"""PoseVAE's motion discriminator (official ``PoseSequenceDiscriminator``, key ``netD_motion``).

Not used to generate video; it is part of the ``audio2pose`` checkpoint section (so the section
loads strictly) and is the adversary when training PoseVAE.  A 1-D conv net over time:
(B, T, 6) pose motion -> (B, T / 4) realism logits.
"""
from __future__ import annotations

import torch
from torch import nn


class ConvBNAct1d(nn.Module):
    """Bias-free Conv1d + BatchNorm1d + ReLU (or LeakyReLU 0.2); keys ``conv``, ``norm``."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int, padding: int, leaky: bool) -> None:
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel_size, stride, padding, bias=False)
        self.norm = nn.BatchNorm1d(cout)
        self.act = nn.LeakyReLU(0.2) if leaky else nn.ReLU()
        nn.init.kaiming_normal_(self.conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class PoseDiscriminator(nn.Module):
    """``input_channels`` and ``leaky`` are auido2pose.yaml's ``MODEL.DISCRIMINATOR`` (6, False)."""

    def __init__(self, input_channels: int = 6, leaky: bool = False) -> None:
        super().__init__()
        self.seq = nn.Sequential(
            ConvBNAct1d(input_channels, 256, 4, 2, 1, leaky),  # halves T
            ConvBNAct1d(256, 512, 4, 2, 1, leaky),  # halves T
            ConvBNAct1d(512, 1024, 3, 1, 1, leaky),
            nn.Conv1d(1024, 1, kernel_size=3, stride=1, padding=1),
        )

    def forward(self, motion: torch.Tensor) -> torch.Tensor:
        """``motion`` (B, T, ...) with the pose values flattened to channels -> (B, T / 4)."""
        x = motion.reshape(motion.shape[0], motion.shape[1], -1).transpose(1, 2)
        return self.seq(x).squeeze(1)
