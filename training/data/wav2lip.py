"""The Wav2Lip generator (Prajwal et al. 2020), the teacher behind ExpNet's lip-only targets, and
reading its checkpoint (also the source of the Wav2Lip audio encoder SadTalker's audio networks
start from).

Layer names equal the official ``models/wav2lip.py`` so ``wav2lip.pth`` / ``wav2lip_gan.pth``
(``{"state_dict": ...}``, keys possibly prefixed ``module.``) load strictly.  Users download
those files from the Wav2Lip project (https://github.com/Rudrabha/Wav2Lip); they are not
redistributed here.  The generator works on 96x96 BGR faces in [0, 1]: 6 channels = the face
with its lower half blanked, then a reference face; plus one (1, 80, 16) mel window per face.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from sadtalker_core.checkpoints import OFFICIAL_LAYOUTS, CheckpointError, layout_for, load_into, read_section
from sadtalker_core.networks.audio_encoder import ConvBNReLU, wav2lip_audio_encoder

FACE_SIZE = 96


class ConvTransposeBNReLU(nn.Module):
    """ConvTranspose2d + BatchNorm2d (``conv_block``) + ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int, padding: int, output_padding: int = 0) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, output_padding),
                                        nn.BatchNorm2d(cout))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


def _stage(cin: int, cout: int, residuals: int, kernel_size: int = 3, stride: int = 2, padding: int = 1) -> nn.Sequential:
    """A (strided) ConvBNReLU followed by ``residuals`` residual 3x3 ConvBNReLUs."""
    return nn.Sequential(ConvBNReLU(cin, cout, kernel_size, stride, padding),
                         *(ConvBNReLU(cout, cout, 3, 1, 1, residual=True) for _ in range(residuals)))


def _up_stage(cin: int, cout: int, residuals: int, stride: int = 2, padding: int = 1, output_padding: int = 1) -> nn.Sequential:
    return nn.Sequential(ConvTransposeBNReLU(cin, cout, 3, stride, padding, output_padding),
                         *(ConvBNReLU(cout, cout, 3, 1, 1, residual=True) for _ in range(residuals)))


class Wav2Lip(nn.Module):
    """(B, 1, 80, 16) mel windows + (B, 6, 96, 96) faces -> (B, 3, 96, 96) lip-synced faces."""

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList([
            nn.Sequential(ConvBNReLU(6, 16, 7, 1, 3)),  # 96
            _stage(16, 32, 2),  # 48
            _stage(32, 64, 3),  # 24
            _stage(64, 128, 2),  # 12
            _stage(128, 256, 2),  # 6
            _stage(256, 512, 1),  # 3
            nn.Sequential(ConvBNReLU(512, 512, 3, 1, 0), ConvBNReLU(512, 512, 1, 1, 0)),  # 1
        ])
        self.audio_encoder = wav2lip_audio_encoder()
        self.face_decoder_blocks = nn.ModuleList([
            nn.Sequential(ConvBNReLU(512, 512, 1, 1, 0)),  # 1
            _up_stage(1024, 512, 1, stride=1, padding=0, output_padding=0),  # 3
            _up_stage(1024, 512, 2),  # 6
            _up_stage(768, 384, 2),  # 12
            _up_stage(512, 256, 2),  # 24
            _up_stage(320, 128, 2),  # 48
            _up_stage(160, 64, 2),  # 96
        ])
        self.output_block = nn.Sequential(ConvBNReLU(80, 32, 3, 1, 1), nn.Conv2d(32, 3, kernel_size=1), nn.Sigmoid())

    def forward(self, mels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        skips = []
        x = faces
        for block in self.face_encoder_blocks:
            x = block(x)
            skips.append(x)
        x = self.audio_encoder(mels)
        for block, skip in zip(self.face_decoder_blocks, reversed(skips)):
            x = torch.cat([block(x), skip], dim=1)
        return self.output_block(x)


def read_wav2lip_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The generator's state dict from a Wav2Lip checkpoint (``module.`` prefixes removed)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot read as a Wav2Lip checkpoint ({exc})") from exc
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a Wav2Lip checkpoint holding a 'state_dict'")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_wav2lip(path: str | os.PathLike, device: torch.device | str = "cpu") -> Wav2Lip:
    """The Wav2Lip generator in eval mode with the weights of ``wav2lip.pth`` / ``wav2lip_gan.pth``."""
    net = Wav2Lip()
    load_into(net, read_wav2lip_state(path), f"{path} [Wav2Lip generator]")
    return net.to(device).eval().requires_grad_(False)


def audio_encoder_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Weights for ``wav2lip_audio_encoder()`` from a Wav2Lip checkpoint or from an official
    SadTalker file (its ExpNet's audio encoder, or PoseVAE's for ``auido2pose_00140-model.pth``)."""
    name = os.path.basename(path)
    if name in OFFICIAL_LAYOUTS or name.endswith(".safetensors"):
        section = "audio2exp" if "audio2exp" in layout_for(path).sections else "audio2pose"
        state = read_section(path, section)
        prefix = "audio_encoder." if section == "audio2exp" else "audio_encoder.audio_encoder."
    else:
        state, prefix = read_wav2lip_state(path), "audio_encoder."
    found = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not found:
        raise CheckpointError(f"{path}: holds no Wav2Lip audio encoder weights (keys 'audio_encoder.*')")
    return found
