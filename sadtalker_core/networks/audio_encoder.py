"""The Wav2Lip audio encoder shared by ExpNet and PoseVAE: one (1, 80, 16) mel window -> 512 features.

Both official networks (``SimpleWrapperV2.audio_encoder`` and ``AudioEncoder.audio_encoder`` of
Audio2Pose) build the same 13-block stack; the checkpoint keys are ``<index>.conv_block.{0,1}.*``.
"""
from __future__ import annotations

import torch
from torch import nn

#: (in, out, kernel, stride, padding, residual) of each block, top to bottom.
_BLOCKS: tuple[tuple[int, int, int, int | tuple[int, int], int, bool], ...] = (
    (1, 32, 3, 1, 1, False),
    (32, 32, 3, 1, 1, True),
    (32, 32, 3, 1, 1, True),
    (32, 64, 3, (3, 1), 1, False),
    (64, 64, 3, 1, 1, True),
    (64, 64, 3, 1, 1, True),
    (64, 128, 3, 3, 1, False),
    (128, 128, 3, 1, 1, True),
    (128, 128, 3, 1, 1, True),
    (128, 256, 3, (3, 2), 1, False),
    (256, 256, 3, 1, 1, True),
    (256, 512, 3, 1, 0, False),
    (512, 512, 1, 1, 0, False),
)

EMBEDDING_SIZE = 512


class ConvBNReLU(nn.Module):
    """Conv2d + BatchNorm2d (``conv_block``), optional identity shortcut, then ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int | tuple[int, int], padding: int,
                 residual: bool = False) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel_size, stride, padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)


def wav2lip_audio_encoder() -> nn.Sequential:
    """The 13-block encoder: (N, 1, 80, 16) mel windows -> (N, 512, 1, 1)."""
    return nn.Sequential(*(ConvBNReLU(*block) for block in _BLOCKS))
