"""``python -m training.train_posevae --config cfg.yaml``: PoseVAE, the audio -> head-motion CVAE.

Per sample (``datasets.PoseWindows``): a reference frame and the 32 frames after it.  The CVAE
encodes the true motion (pose minus the reference pose) given the conditions (reference pose,
the frames' audio embeddings, the speaker's style id) and decodes it back; the objective is the
paper's (auido2pose.yaml weights): MSE reconstruction + KL to N(0, 1) + an adversarial term from
the pose-sequence discriminator ``netD_motion``, which is trained alongside.

The Wav2Lip audio encoder stays frozen, as in the official training; give its weights with
``audio_encoder`` (a Wav2Lip checkpoint or an official SadTalker file), or start the whole
network from an official file with ``init``.  Exported as ``auido2pose_00140-model.pth``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from sadtalker_core.checkpoints import load_into, load_section_into
from sadtalker_core.config import PoseVAEConfig
from sadtalker_core.networks.posevae import PoseVAE

from .config import RunConfig
from .datasets import PoseWindows
from .export import POSEVAE_FILE, write_official
from .losses import discriminator_adversarial, generator_adversarial, kl_divergence, upcast
from .runner import Optimization, Task, adam_per_network, frozen, main
from .samples import save_curves
from .shards import PreparedData
from .wav2lip import audio_encoder_state


@dataclass(frozen=True)
class PoseVAELossWeights:
    """``TRAIN.LOSS`` of auido2pose.yaml."""

    reg: float = 1.0
    kl: float = 1.0
    gan: float = 0.7


@dataclass(frozen=True)
class PoseVAETrainConfig:
    run: RunConfig = field(default_factory=lambda: RunConfig(out="runs/posevae", batch_size=64))
    model: PoseVAEConfig = field(default_factory=PoseVAEConfig)
    loss: PoseVAELossWeights = field(default_factory=PoseVAELossWeights)
    lr: float = 1e-4
    lr_discriminator: float = 1e-4
    gan_mode: str = "ls"
    init: str = ""  # official file holding 'audio2pose' to fine-tune from
    audio_encoder: str = ""  # wav2lip.pth or an official SadTalker file: the frozen audio encoder


class PoseVAETask(Task[PoseVAETrainConfig]):
    name = "posevae"

    def __init__(self, config: PoseVAETrainConfig, ctx) -> None:
        super().__init__(config, ctx)
        net = PoseVAE(config.model)
        if config.init:
            load_section_into(net, config.init, "audio2pose")
        if config.audio_encoder:
            load_into(net.audio_encoder.audio_encoder, audio_encoder_state(config.audio_encoder),
                      f"{config.audio_encoder} [audio encoder]")
        net.audio_encoder.eval().requires_grad_(False)
        # the official encoder reads its log-variance from linear_means; linear_logvar stays as loaded
        net.netG.encoder.linear_logvar.requires_grad_(False)
        self.net = net.to(ctx.device)
        self.modules = {"audio2pose": self.net}
        self.trainable = {"netG": self.net.netG, "netD_motion": self.net.netD_motion}
        self.dataset = PoseWindows(PreparedData(Path(config.run.data)), config.run.seed, config.model.seq_len,
                                   config.model.latent_size)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return adam_per_network(self.trainable, {"netG": self.config.lr, "netD_motion": self.config.lr_discriminator})

    def audio_embeddings(self, mels: torch.Tensor) -> torch.Tensor:
        """(B, T, 1, 80, 16) -> (B, T, 512) with the frozen encoder.  Batch-major: unlike the
        official training pass (which interleaves the frames of different batch items, see
        ``PoseAudioEncoder``), every sample gets its own audio; at inference (B = 1) both agree."""
        with torch.no_grad():
            features = self.net.audio_encoder.audio_encoder(mels.flatten(0, 1))
        return features.view(mels.shape[0], mels.shape[1], -1)

    def training_step(self, batch: dict[str, torch.Tensor], opt: Optimization) -> dict[str, torch.Tensor]:
        weights, mode = self.config.loss, self.config.gan_mode
        ref = batch["pose"][:, 0]
        motion = batch["pose"][:, 1:] - ref.unsqueeze(1)
        audio = self.audio_embeddings(batch["mels"])
        with opt.autocast():
            out = self.ddp["netG"](motion, batch["style"], ref, audio, batch["eps"])
            reg = F.mse_loss(upcast(out.motion), motion)
            kl = kl_divergence(upcast(out.mu), upcast(out.logvar))
            with frozen(self.net.netD_motion):
                adversarial = generator_adversarial(upcast(self.net.netD_motion(out.motion)), mode)
            total = weights.reg * reg + weights.kl * kl + weights.gan * adversarial
        opt.step(total, "netG")
        with opt.autocast():
            real = upcast(self.ddp["netD_motion"](motion))
            fake = upcast(self.ddp["netD_motion"](out.motion.detach()))
            discriminator = discriminator_adversarial(real, fake, mode)
        opt.step(discriminator, "netD_motion")
        return {"total": total, "reg": reg, "kl": kl, "gan_g": adversarial, "gan_d": discriminator}

    def sample(self, batch: dict[str, torch.Tensor], folder: Path, step: int) -> None:
        """Pose curves of the first sample: ground truth, the latent mean's decode, a random draw."""
        ref = batch["pose"][:1, 0]
        audio = self.audio_embeddings(batch["mels"][:1])
        style = batch["style"][:1]
        mean = self.net.decode(torch.zeros_like(batch["eps"][:1]), style, ref, audio)
        drawn = self.net.decode(batch["eps"][:1], style, ref, audio)
        save_curves(folder / f"step_{step:08d}.png", {
            "truth": batch["pose"][0, 1:].cpu().numpy(), "mean": (ref + mean[0]).cpu().numpy(),
            "draw": (ref + drawn[0]).cpu().numpy()})

    def export(self, folder: Path) -> list[Path]:
        return [write_official(folder / POSEVAE_FILE, {"audio2pose": self.net.state_dict()})]


if __name__ == "__main__":
    sys.exit(main(PoseVAETask, PoseVAETrainConfig, description=__doc__.split("\n\n")[0]))
