"""``python -m training.trainers.mapping --config cfg.yaml``: MappingNet, 3DMM coefficients -> renderer pose.

Per sample (``training.data.datasets.FramePairs`` with coefficient windows): a source and a driving frame of a
clip and the 27-frame coefficient windows MappingNet reads at inference (the driving frame's
window; the source's coefficients repeated).  The face-vid2vid networks (``facevid2vid``: a
``facevid2vid_00189-model.pth.tar``, official or exported by ``train_facevid2vid``) stay frozen:

* keypoints: L1 between the keypoints MappingNet's output gives through the inference
  transformation and the face-vid2vid keypoints (head-pose estimator) of the same frame, for
  source and driving frame;
* reconstruction: the frozen generator renders the source with the predicted keypoints and the
  image-pyramid VGG-19 L1 to the driving frame is minimised (``vgg19`` = the user's torchvision
  VGG-19 file).

``render.mapping.coeff_nc`` 70 (facerender.yaml) exports ``mapping_00229-model.pth.tar``, 73
(facerender_still.yaml: the source's crop values appended) ``mapping_00109-model.pth.tar``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from sadtalker_core.checkpoints import load_section_into
from sadtalker_core.config import FACERENDER, FaceRenderConfig
from sadtalker_core.networks.generator import load_generator
from sadtalker_core.networks.he_estimator import load_he_estimator
from sadtalker_core.networks.keypoint_detector import load_kp_detector
from sadtalker_core.networks.mapping import MappingNet
from sadtalker_core.render.keypoints import keypoint_transformation

from ..config import RunConfig
from ..data.datasets import FramePairs
from ..data.shards import PreparedData
from ..export import mapping_file, write_official
from ..losses.keypoints import posed_keypoints, split_pose
from ..losses.objectives import PerceptualLoss, PerceptualWeights, upcast
from ..losses.vgg import load_vgg19
from ..run.inputs import RENDERER_FILE, VGG19_FILE, file_problems
from ..run.runner import Optimization, Task, adam_per_network, main
from ..run.samples import save_image_grid


@dataclass(frozen=True)
class MappingLossWeights:
    keypoint: float = 10.0
    perceptual: PerceptualWeights = field(default_factory=PerceptualWeights)


@dataclass(frozen=True)
class MappingTrainConfig:
    run: RunConfig = field(default_factory=lambda: RunConfig(out="runs/mapping", batch_size=32))
    render: FaceRenderConfig = FACERENDER  # FACERENDER_STILL values (coeff_nc 73) for the 'full' variant
    loss: MappingLossWeights = field(default_factory=MappingLossWeights)
    image_size: int = 256
    lr: float = 2e-4
    facevid2vid: str = ""  # facevid2vid_00189-model.pth.tar (kp_detector, generator, he_estimator), frozen
    vgg19: str = ""  # torchvision vgg19-dcbb9e9d.pth
    init: str = ""  # an official mapping file to fine-tune from


class MappingTask(Task[MappingTrainConfig]):
    name = "mapping"

    @classmethod
    def missing_inputs(cls, config: MappingTrainConfig) -> list[str]:
        return (super().missing_inputs(config)
                + file_problems("facevid2vid", config.facevid2vid, RENDERER_FILE,
                                holds=("kp_detector", "generator", "he_estimator"))
                + file_problems("vgg19", config.vgg19, VGG19_FILE)
                + file_problems("init", config.init, "an official mapping file", required=False, holds=("mapping",)))

    def __init__(self, config: MappingTrainConfig, ctx) -> None:
        super().__init__(config, ctx)
        device, render = ctx.device, config.render
        self.kp_detector = load_kp_detector(config.facevid2vid, device, render.kp_detector)
        self.generator = load_generator(config.facevid2vid, device, render.generator)
        self.he_estimator = load_he_estimator(config.facevid2vid, device, render.he_estimator)
        mapping = MappingNet(render.mapping)
        if config.init:
            load_section_into(mapping, config.init, "mapping")
        self.mapping = mapping.to(device)
        self.modules = {"mapping": self.mapping}
        self.trainable = dict(self.modules)
        self.perceptual = PerceptualLoss(load_vgg19(config.vgg19), config.loss.perceptual).to(device)
        self.dataset = FramePairs(PreparedData(Path(config.run.data)), config.run.seed, config.image_size,
                                  coeff_nc=render.mapping.coeff_nc)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return adam_per_network(self.trainable, {"mapping": self.config.lr})

    def keypoints(self, batch: dict[str, torch.Tensor], mapping: torch.nn.Module):
        """(canonical, predicted source, predicted driving) keypoints."""
        with torch.no_grad():
            kp_canonical = self.kp_detector(batch["source"])
        pose = mapping(torch.cat([batch["source_window"], batch["driving_window"]]))
        source_pose, driving_pose = split_pose(pose, batch["source"].shape[0])
        return (kp_canonical, keypoint_transformation(kp_canonical, source_pose),
                keypoint_transformation(kp_canonical, driving_pose))

    def training_step(self, batch: dict[str, torch.Tensor], opt: Optimization) -> dict[str, torch.Tensor]:
        weights = self.config.loss
        source, driving = batch["source"], batch["driving"]
        with opt.autocast():
            kp_canonical, kp_source, kp_driving = self.keypoints(batch, self.ddp["mapping"])
            with torch.no_grad():
                truth = posed_keypoints(kp_canonical.repeat(2, 1, 1), self.he_estimator(torch.cat([source, driving])))
            predicted = upcast(torch.cat([kp_source, kp_driving]))
            keypoint = F.l1_loss(predicted, upcast(truth)) * 2  # source and driving terms
            prediction = upcast(self.generator(source, kp_driving, kp_source).prediction)
            perceptual = self.perceptual(prediction, driving)
            total = weights.keypoint * keypoint + perceptual
        opt.step(total, "mapping")
        return {"total": total, "keypoint": keypoint, "perceptual": perceptual}

    def sample(self, batch: dict[str, torch.Tensor], folder: Path, step: int) -> None:
        """Rows: source, driving, rendering with MappingNet's keypoints."""
        _, kp_source, kp_driving = self.keypoints(batch, self.mapping)
        prediction = self.generator(batch["source"], kp_driving, kp_source).prediction
        save_image_grid(folder / f"step_{step:08d}.png", [batch["source"], batch["driving"], prediction])

    def export(self, folder: Path, step: int) -> list[Path]:
        path = folder / mapping_file(self.config.render.mapping.coeff_nc)
        return [write_official(path, {"mapping": self.mapping.state_dict()}, epoch=step)]


if __name__ == "__main__":
    sys.exit(main(MappingTask, MappingTrainConfig, description=__doc__.split("\n\n")[0]))
