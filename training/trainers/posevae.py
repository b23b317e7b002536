"""``python -m training.trainers.posevae --config cfg.yaml``: PoseVAE, the audio -> head-motion CVAE.

Per sample (``training.data.datasets.PoseWindows``): a reference frame and the 32 frames after it.  The CVAE
encodes the true motion (pose minus the reference pose) given the conditions (reference pose,
the frames' audio embeddings, the speaker's style id) and decodes it back; the objective is the
paper's (auido2pose.yaml weights): MSE reconstruction + KL to N(0, 1) + an adversarial term from
the pose-sequence discriminator ``netD_motion``, which is trained alongside.

The Wav2Lip audio encoder stays frozen, as in the official training; give its weights with
``audio_encoder`` (a Wav2Lip checkpoint or an official SadTalker file), or start the whole
network from an official file with ``init``.  Exported as ``auido2pose_00140-model.pth``.

Each speaker is a pose style (``training.data.styles``): the official table has 46; with more
speakers give a ``style_map`` file (speaker -> slot) or a wider table with ``num_styles`` (then
only this project's loaders read the export: the trainer warns before its first step, and the
export says so again).
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from sadtalker_core.checkpoints import load_into, load_section_into
from sadtalker_core.config import PoseVAEConfig
from sadtalker_core.errors import SettingError
from sadtalker_core.networks.posevae import PoseVAE

from ..config import RunConfig
from ..data.datasets import PoseWindows
from ..data.shards import Manifest, PreparedData
from ..data.styles import pose_styles
from ..data.wav2lip import audio_encoder_state
from ..export import POSEVAE_FILE, style_table_warning, write_official
from ..losses.objectives import discriminator_adversarial, generator_adversarial, kl_divergence, upcast
from ..run.inputs import AUDIO_ENCODER_FILE, data_problems, file_problems
from ..run.runner import Optimization, Task, adam_per_network, frozen, main
from ..run.samples import save_curves


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
    num_styles: int = PoseVAEConfig().num_classes  # rows of the style table (46: the official file)
    style_map: str = ""  # YAML file 'speaker: slot' (several speakers may share a slot)

    def __post_init__(self) -> None:
        if self.model.num_classes != PoseVAEConfig().num_classes:
            raise SettingError("the style table's width is set with num_styles (model.num_classes stays 46)")
        if self.num_styles < 1:
            raise SettingError(f"num_styles must be >= 1, got {self.num_styles}")

    @property
    def network(self) -> PoseVAEConfig:
        """The network's config: ``model`` with ``num_styles`` style slots."""
        return dataclasses.replace(self.model, num_classes=self.num_styles)

    def styles(self) -> dict[str, int]:
        """Speaker -> style slot for the prepared data (an error naming the ways out when it has
        more speakers than slots)."""
        return pose_styles([c.speaker for c in Manifest.load(self.run.data).clips], self.num_styles, self.style_map)


class PoseVAETask(Task[PoseVAETrainConfig]):
    name = "posevae"

    @classmethod
    def missing_inputs(cls, config: PoseVAETrainConfig) -> list[str]:
        return (super().missing_inputs(config)
                + file_problems("audio_encoder", config.audio_encoder, AUDIO_ENCODER_FILE, required=not config.init)
                + file_problems("init", config.init, "an official file holding PoseVAE (audio2pose)", required=False,
                                holds=("audio2pose",))
                + file_problems("style_map", config.style_map, "a YAML file of 'speaker: slot' lines", required=False))

    @classmethod
    def setting_problems(cls, config: PoseVAETrainConfig) -> list[str]:
        """Speakers without a style slot (more speakers than slots, or a style map that misses some),
        once the data and the style map are there to read."""
        if data_problems(config.run.data) or (config.style_map and not Path(config.style_map).is_file()):
            return []  # reported with the files
        try:
            config.styles()
        except SettingError as exc:
            return [str(exc)]
        return []

    @classmethod
    def warnings(cls, config: PoseVAETrainConfig) -> list[str]:
        warning = style_table_warning(config.num_styles, "the PoseVAE this run trains and exports")
        return [warning] if warning else []

    def __init__(self, config: PoseVAETrainConfig, ctx) -> None:
        super().__init__(config, ctx)
        net = PoseVAE(config.network)
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
                                   config.model.latent_size, config.styles())

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

    def export(self, folder: Path, step: int) -> list[Path]:
        path = write_official(folder / POSEVAE_FILE, {"audio2pose": self.net.state_dict()}, epoch=step)
        warning = style_table_warning(self.config.num_styles, f"the PoseVAE in {path}")
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
        return [path]


if __name__ == "__main__":
    sys.exit(main(PoseVAETask, PoseVAETrainConfig, description=__doc__.split("\n\n")[0]))
