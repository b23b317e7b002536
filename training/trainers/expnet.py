"""``python -m training.trainers.expnet --config cfg.yaml``: ExpNet, audio -> 3DMM expression.

Per sample (``training.data.datasets.ExpressionWindows``): 5 consecutive frames with their mel windows, the
clip's first-frame expression β0, the eye-closing ratio (the blink condition) and the lip-only
targets of a teacher (``training.data.teacher``; made beforehand, or supplied by the user).  The objective
is the paper's (auido2exp.yaml weights):

* distillation: MSE to the lip-only targets (``distill``);
* landmarks: with the user's BFM file (``bfm``), the 68 landmarks of the predicted expression
  (the frame's own identity and pose) against those of the frame's true expression
  (``landmark``), and the eyelid gaps of both (``eye_blink``), which teach the blink condition;
* lip reading: an optional hook ``lip_reading = "package.module:function"`` called as
  ``function(predicted_expression, batch) -> loss`` (e.g. a lip-reading network on rendered
  mouths), weighted by ``loss.lip_reading``.

Exported as ``auido2exp_00300-model.pth``.
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from sadtalker_core.checkpoints import load_into, load_section_into
from sadtalker_core.config import ExpNetConfig
from sadtalker_core.errors import SettingError
from sadtalker_core.networks.expnet import ExpNet

from ..config import RunConfig
from ..data.datasets import ANGLE_FULL, EXP_FULL, ID_FULL, TRANS_FULL, ExpressionWindows
from ..data.shards import TARGETS_DIR, PreparedData
from ..data.teacher import load_targets
from ..data.wav2lip import audio_encoder_state
from ..export import EXPNET_FILE, write_official
from ..losses.bfm import LandmarkProjector, eye_blink_loss, landmark_loss, load_bfm
from ..losses.objectives import upcast
from ..run.inputs import AUDIO_ENCODER_FILE, file_problems, targets_problems
from ..run.runner import Optimization, Task, adam_per_network, main
from ..run.samples import save_curves

LipReadingLoss = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class ExpNetLossWeights:
    """``TRAIN.LOSS`` of auido2exp.yaml (W_COEFF_EXP, W_LM, W_EYE_BLINK, W_LIPREADING)."""

    distill: float = 2.0
    landmark: float = 0.01
    eye_blink: float = 4.0
    lip_reading: float = 0.01


@dataclass(frozen=True)
class ExpNetTrainConfig:
    run: RunConfig = field(default_factory=lambda: RunConfig(out="runs/expnet", batch_size=32))
    model: ExpNetConfig = field(default_factory=ExpNetConfig)
    loss: ExpNetLossWeights = field(default_factory=ExpNetLossWeights)
    frames: int = 5
    lr: float = 2e-5
    targets: str = ""  # folder of lip-only targets; default <data>/targets
    bfm: str = ""  # BFM_model_front.mat: enables the landmark and eye-blink losses
    lip_reading: str = ""  # "package.module:function" lip-reading loss hook
    init: str = ""  # official file holding 'audio2exp' to fine-tune from
    audio_encoder: str = ""  # wav2lip.pth or an official SadTalker file to start the audio encoder from
    train_audio_encoder: bool = True


def load_hook(spec: str) -> LipReadingLoss:
    """``"package.module:function"`` -> the function."""
    module, _, name = spec.partition(":")
    if not name:
        raise SettingError(f"lip_reading must look like 'package.module:function', got {spec!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise SettingError(f"lip_reading {spec!r}: {exc}") from exc


class ExpNetTask(Task[ExpNetTrainConfig]):
    name = "expnet"

    @classmethod
    def missing_inputs(cls, config: ExpNetTrainConfig) -> list[str]:
        return (super().missing_inputs(config) + targets_problems(config.run.data, config.targets)
                + file_problems("bfm", config.bfm, "Deep3DFaceRecon's BFM_model_front.mat (landmark and eye-blink "
                                "losses)", required=False)
                + file_problems("audio_encoder", config.audio_encoder, AUDIO_ENCODER_FILE, required=False)
                + file_problems("init", config.init, "an official file holding ExpNet (audio2exp)", required=False,
                                holds=("audio2exp",)))

    def __init__(self, config: ExpNetTrainConfig, ctx) -> None:
        super().__init__(config, ctx)
        net = ExpNet(config.model)
        if config.init:
            load_section_into(net, config.init, "audio2exp")
        if config.audio_encoder:
            load_into(net.audio_encoder, audio_encoder_state(config.audio_encoder), f"{config.audio_encoder} [audio encoder]")
        self.net = net.to(ctx.device)
        self.modules = {"audio2exp": self.net}
        self.trainable = {"expnet": self.net}
        if not config.train_audio_encoder:
            self.frozen_parts = [net.audio_encoder.requires_grad_(False)]
        self.projector = LandmarkProjector(load_bfm(config.bfm)).to(ctx.device) if config.bfm else None
        self.lip_reading = load_hook(config.lip_reading) if config.lip_reading else None
        data = PreparedData(Path(config.run.data))
        targets = load_targets(config.targets or data.folder / TARGETS_DIR, data)
        self.dataset = ExpressionWindows(data, config.run.seed, config.frames, targets)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return adam_per_network(self.trainable, {"expnet": self.config.lr})

    def predict(self, batch: dict[str, torch.Tensor], net: torch.nn.Module) -> torch.Tensor:
        frames = batch["mels"].shape[1]
        ref = batch["ref_exp"].unsqueeze(1).expand(-1, frames, -1)
        return net(batch["mels"], ref, batch["blink"].unsqueeze(-1))

    def landmarks(self, full: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """Landmarks of (N, 257) frames with their expression replaced by ``expression`` (N, 64)."""
        return self.projector(full[:, ID_FULL], expression, full[:, ANGLE_FULL], full[:, TRANS_FULL])

    def training_step(self, batch: dict[str, torch.Tensor], opt: Optimization) -> dict[str, torch.Tensor]:
        weights = self.config.loss
        with opt.autocast():
            predicted = upcast(self.predict(batch, self.ddp["expnet"]))
            losses = {"distill": F.mse_loss(predicted, batch["target"])}
            total = weights.distill * losses["distill"]
            if self.projector is not None:
                full = batch["coeffs_full"].flatten(0, 1)
                mine = self.landmarks(full, predicted.flatten(0, 1))
                truth = self.landmarks(full, full[:, EXP_FULL])
                losses["landmark"] = landmark_loss(mine, truth)
                losses["eye_blink"] = eye_blink_loss(mine, truth)
                total = total + weights.landmark * losses["landmark"] + weights.eye_blink * losses["eye_blink"]
            if self.lip_reading is not None:
                losses["lip_reading"] = self.lip_reading(predicted, batch)
                total = total + weights.lip_reading * losses["lip_reading"]
        opt.step(total, "expnet")
        return {"total": total, **losses}

    def sample(self, batch: dict[str, torch.Tensor], folder: Path, step: int) -> None:
        """The first six expression coefficients over the sample windows: prediction, lip-only
        target and the frames' true expression."""
        predicted = self.predict(batch, self.net).flatten(0, 1)
        save_curves(folder / f"step_{step:08d}.png", {
            "predicted": predicted[:, :6].cpu().numpy(), "target": batch["target"].flatten(0, 1)[:, :6].cpu().numpy(),
            "truth": batch["coeffs_full"].flatten(0, 1)[:, EXP_FULL][:, :6].cpu().numpy()})

    def export(self, folder: Path, step: int) -> list[Path]:
        return [write_official(folder / EXPNET_FILE, {"audio2exp": self.net.state_dict()}, epoch=step)]


if __name__ == "__main__":
    sys.exit(main(ExpNetTask, ExpNetTrainConfig, description=__doc__.split("\n\n")[0]))
