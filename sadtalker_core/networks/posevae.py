"""PoseVAE (official ``Audio2Pose``): audio + pose style -> head-motion sequences of 32 frames.

Sub-modules, named like the ``audio2pose`` checkpoint section so it loads strictly:

* ``audio_encoder.audio_encoder``: the Wav2Lip mel encoder (frozen in the official training);
* ``netG``: a conditional VAE.  ``netG.decoder`` maps a latent ``z`` (64) plus the pose style's
  learnt class bias, the reference pose (6) and the 32 audio embeddings to 32 frames of pose
  *motion* (change from the reference pose); ``netG.encoder`` (training only) maps a true motion
  sequence to the latent's mean / log-variance;
* ``netD_motion``: the motion discriminator (training only).

Test-time sampling over whole videos (32-frame chunks, remainder, noise) is in ``motion/pose.py``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

import torch
from torch import nn

from ..checkpoints import load_network
from ..config import PoseVAEConfig
from .audio_encoder import wav2lip_audio_encoder
from .pose_discriminator import PoseDiscriminator
from .resunet import ResUnet

POSE_DIM = 6
#: the decoder's style table in an ``audio2pose`` state dict: one row per pose style
STYLE_TABLE = "netG.decoder.classbias"


def config_for_state(state: Mapping[str, torch.Tensor], base: PoseVAEConfig = PoseVAEConfig()) -> PoseVAEConfig:
    """``base`` with as many pose styles as the style table of ``state`` has rows: 46 in the
    official files, more in files trained with a wider ``num_styles`` (``training``)."""
    table = state.get(STYLE_TABLE)
    return base if table is None else replace(base, num_classes=int(table.shape[0]))


class PoseAudioEncoder(nn.Module):
    """(B, T, 1, 80, 16) mel windows -> (B, T, 512) embeddings.

    Kept from the official code: the windows are stacked time-major before encoding but the
    result is read back batch-major, so for B > 1 frames of different batch items are mixed
    (irrelevant at test time, where B = 1; the official model was trained that way).
    """

    def __init__(self) -> None:
        super().__init__()
        self.audio_encoder = wav2lip_audio_encoder()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        batch = mels.shape[0]
        time_major = mels.transpose(0, 1).reshape(-1, *mels.shape[-3:])
        features = self.audio_encoder(time_major)
        return features.reshape(batch, -1, features.shape[1])


def _mlp(sizes: list[int], final_activation: tuple[str, nn.Module]) -> nn.Sequential:
    """Linear layers ``L<i>`` with ReLUs ``A<i>`` between them and ``final_activation``
    (name, module) after the last one."""
    mlp = nn.Sequential()
    pairs = list(zip(sizes[:-1], sizes[1:]))
    for i, (cin, cout) in enumerate(pairs):
        mlp.add_module(f"L{i}", nn.Linear(cin, cout))
        mlp.add_module(*(final_activation if i + 1 == len(pairs) else (f"A{i}", nn.ReLU())))
    return mlp


class PoseEncoder(nn.Module):
    """CVAE encoder: (true motion, reference pose, audio, style) -> latent mean and log-variance."""

    def __init__(self, cfg: PoseVAEConfig) -> None:
        super().__init__()
        self.resunet = ResUnet()
        conditions = cfg.latent_size + cfg.seq_len * cfg.audio_emb_out_size + POSE_DIM
        sizes = [cfg.encoder_layer_sizes[0] + conditions, *cfg.encoder_layer_sizes[1:]]
        self.MLP = _mlp(sizes, (f"A{len(sizes) - 2}", nn.ReLU()))
        self.linear_means = nn.Linear(sizes[-1], cfg.latent_size)
        self.linear_logvar = nn.Linear(sizes[-1], cfg.latent_size)
        self.linear_audio = nn.Linear(cfg.audio_emb_in_size, cfg.audio_emb_out_size)
        self.classbias = nn.Parameter(torch.randn(cfg.num_classes, cfg.latent_size))

    def forward(self, motion: torch.Tensor, style: torch.Tensor, ref_pose: torch.Tensor,
                audio_emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``motion`` (B, 32, 6), ``style`` (B,) int, ``ref_pose`` (B, 6), ``audio_emb`` (B, 32, 512)."""
        batch = motion.shape[0]
        pose_emb = self.resunet(motion.unsqueeze(1)).reshape(batch, -1)
        audio = self.linear_audio(audio_emb).reshape(batch, -1)
        hidden = self.MLP(torch.cat([ref_pose, pose_emb, audio, self.classbias[style]], dim=-1))
        mu = self.linear_means(hidden)
        # Official quirk kept: the log-variance is also read from ``linear_means``
        # (``linear_logvar`` exists in the checkpoint but is never used).
        return mu, mu


class PoseDecoder(nn.Module):
    """CVAE decoder: (z, style, reference pose, audio) -> (B, 32, 6) pose motion."""

    def __init__(self, cfg: PoseVAEConfig) -> None:
        super().__init__()
        self.seq_len = cfg.seq_len
        self.resunet = ResUnet()
        conditions = cfg.latent_size + cfg.seq_len * cfg.audio_emb_out_size + POSE_DIM
        self.MLP = _mlp([conditions, *cfg.decoder_layer_sizes], ("sigmoid", nn.Sigmoid()))
        self.pose_linear = nn.Linear(POSE_DIM, POSE_DIM)
        self.linear_audio = nn.Linear(cfg.audio_emb_in_size, cfg.audio_emb_out_size)
        self.classbias = nn.Parameter(torch.randn(cfg.num_classes, cfg.latent_size))

    def forward(self, z: torch.Tensor, style: torch.Tensor, ref_pose: torch.Tensor,
                audio_emb: torch.Tensor) -> torch.Tensor:
        """``z`` (B, 64), ``style`` (B,) int, ``ref_pose`` (B, 6), ``audio_emb`` (B, 32, 512)."""
        batch = z.shape[0]
        audio = self.linear_audio(audio_emb).reshape(batch, -1)
        hidden = self.MLP(torch.cat([ref_pose, z + self.classbias[style], audio], dim=-1))
        pose_emb = self.resunet(hidden.reshape(batch, 1, self.seq_len, -1))
        return self.pose_linear(pose_emb.squeeze(1))


@dataclass(frozen=True)
class CVAEOutput:
    """Training pass of the CVAE: the latent's mean / log-variance, the sampled ``z``, the motion."""

    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    motion: torch.Tensor


class CVAE(nn.Module):
    def __init__(self, cfg: PoseVAEConfig) -> None:
        super().__init__()
        self.encoder = PoseEncoder(cfg)
        self.decoder = PoseDecoder(cfg)

    def forward(self, motion: torch.Tensor, style: torch.Tensor, ref_pose: torch.Tensor,
                audio_emb: torch.Tensor, eps: torch.Tensor | None = None) -> CVAEOutput:
        """Encode the true ``motion``, sample ``z = mu + eps * exp(logvar / 2)`` (``eps`` drawn
        when not given), decode.  Shapes as in :class:`PoseEncoder`."""
        mu, logvar = self.encoder(motion, style, ref_pose, audio_emb)
        std = torch.exp(0.5 * logvar)
        z = mu + (torch.randn_like(std) if eps is None else eps) * std
        return CVAEOutput(mu, logvar, z, self.decoder(z, style, ref_pose, audio_emb))


class PoseVAE(nn.Module):
    def __init__(self, cfg: PoseVAEConfig = PoseVAEConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.audio_encoder = PoseAudioEncoder()
        self.netG = CVAE(cfg)
        self.netD_motion = PoseDiscriminator(POSE_DIM)

    def encode_audio(self, mels: torch.Tensor) -> torch.Tensor:
        """(B, T, 1, 80, 16) mel windows -> (B, T, 512)."""
        return self.audio_encoder(mels)

    def decode(self, z: torch.Tensor, style: torch.Tensor, ref_pose: torch.Tensor,
               audio_emb: torch.Tensor) -> torch.Tensor:
        """One ``seq_len`` chunk of pose motion from a latent draw (the official ``netG.test``)."""
        return self.netG.decoder(z, style, ref_pose, audio_emb)


def load_posevae(path: str | os.PathLike, device: torch.device | str = "cpu", config: PoseVAEConfig = PoseVAEConfig()) -> PoseVAE:
    """PoseVAE from an official file holding section ``audio2pose`` (the SadTalker safetensors
    bundle or ``auido2pose_00140-model.pth``), ready for inference, with as many pose styles as
    the file has (46 in official files; more where ``training`` trained a wider table)."""
    return load_network(lambda state: PoseVAE(config_for_state(state, config)), path, "audio2pose", device)
