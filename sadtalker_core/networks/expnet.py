"""ExpNet (official ``SimpleWrapperV2``): mel windows + reference expression + blink -> expression.

Per video frame: the Wav2Lip audio encoder turns the (1, 80, 16) mel window into 512 features,
which are concatenated with the reference expression β0 (64) and the eye-blink ratio (1) and
mapped linearly to the 64 expression coefficients.  Weights: section ``audio2exp`` (keys
``audio_encoder.<i>.conv_block.*``, ``mapping1.*``).
"""
from __future__ import annotations

import os

import torch
from torch import nn

from ..checkpoints import load_network
from ..config import ExpNetConfig
from .audio_encoder import EMBEDDING_SIZE, wav2lip_audio_encoder


class ExpNet(nn.Module):
    def __init__(self, cfg: ExpNetConfig = ExpNetConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.audio_encoder = wav2lip_audio_encoder()
        self.mapping1 = nn.Linear(EMBEDDING_SIZE + cfg.exp_dim + 1, cfg.exp_dim)

    def forward(self, mels: torch.Tensor, ref_exp: torch.Tensor, blink: torch.Tensor) -> torch.Tensor:
        """``mels`` (B, T, 1, 80, 16), ``ref_exp`` (B, T, 64), ``blink`` (B, T, 1) -> (B, T, 64)."""
        batch, frames = ref_exp.shape[:2]
        audio = self.audio_encoder(mels.reshape(-1, *mels.shape[-3:])).reshape(batch * frames, -1)
        features = torch.cat(
            [audio, ref_exp.reshape(batch * frames, -1), blink.reshape(batch * frames, -1)], dim=1
        )
        return self.mapping1(features).reshape(batch, frames, -1)


def load_expnet(path: str | os.PathLike, device: torch.device | str = "cpu", config: ExpNetConfig = ExpNetConfig()) -> ExpNet:
    """ExpNet from an official file holding section ``audio2exp`` (the SadTalker safetensors
    bundle or ``auido2exp_00300-model.pth``), ready for inference."""
    return load_network(ExpNet(config), path, "audio2exp", device)
