"""``python -m training.trainers.facevid2vid --config cfg.yaml``: the face renderer (face-vid2vid with
SadTalker's SPADE generator), self-supervised on video.

Per sample (``training.data.datasets.FramePairs``): a source and a driving frame of one clip.  The keypoint
detector gives the source's canonical keypoints, the head-pose estimator each frame's pose and
expression deviations, the generator warps the source to the driving keypoints.  The objective
is face-vid2vid's (vox-256.yaml weights):

* perceptual: image-pyramid VGG-19 L1 between rendered and driving frame (``vgg19`` = the
  user's torchvision VGG-19 file);
* adversarial (hinge by default) + feature matching against a multi-scale patch discriminator;
* equivariance: keypoints of a randomly thin-plate-warped driving frame, warped back, must equal
  the driving keypoints;
* keypoint prior (keypoints spread apart, mean depth 0.33), deformation prior (L1 of δ);
* head pose: L1 between the estimated angles and the driving frame's 3DMM angles from the
  prepared data (face-vid2vid used HopeNet's; the recon net's are already in the shards).

Exported as ``facevid2vid_00189-model.pth.tar`` (generator, keypoint detector, head-pose estimator).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from sadtalker_core.checkpoints import load_section_into
from sadtalker_core.config import FACERENDER, FaceRenderConfig
from sadtalker_core.networks.generator import OcclusionAwareSPADEGenerator
from sadtalker_core.networks.he_estimator import HEEstimator
from sadtalker_core.networks.keypoint_detector import KPDetector

from ..config import RunConfig
from ..data.datasets import FramePairs, TPSNoise
from ..data.shards import PreparedData
from ..export import FACEVID2VID_FILE, write_official
from ..losses.discriminator import DiscriminatorConfig, MultiScaleDiscriminator
from ..losses.keypoints import posed_keypoints, renderer_degrees, split_pose
from ..losses.objectives import (
    ImagePyramid,
    PerceptualLoss,
    PerceptualWeights,
    deformation_prior,
    discriminator_adversarial,
    feature_matching,
    generator_adversarial,
    head_pose_loss,
    keypoint_prior,
    upcast,
)
from ..losses.transforms import ThinPlateWarp
from ..losses.vgg import load_vgg19
from ..run.inputs import RENDERER_FILE, VGG19_FILE, file_problems
from ..run.runner import Optimization, Task, adam_per_network, frozen, main
from ..run.samples import save_image_grid

RENDERER = ("kp_detector", "he_estimator", "generator")


@dataclass(frozen=True)
class FaceVid2VidLossWeights:
    """``train_params.loss_weights`` of face-vid2vid's vox-256.yaml."""

    generator_gan: float = 1.0
    discriminator_gan: float = 1.0
    feature_matching: tuple[float, ...] = (10.0, 10.0, 10.0, 10.0)
    perceptual: PerceptualWeights = field(default_factory=PerceptualWeights)
    equivariance: float = 10.0
    keypoint: float = 10.0
    headpose: float = 20.0
    expression: float = 5.0


@dataclass(frozen=True)
class FaceVid2VidTrainConfig:
    run: RunConfig = field(default_factory=lambda: RunConfig(out="runs/facevid2vid", batch_size=32))
    render: FaceRenderConfig = FACERENDER  # kp_detector, he_estimator and generator are trained
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: FaceVid2VidLossWeights = field(default_factory=FaceVid2VidLossWeights)
    tps: TPSNoise = field(default_factory=TPSNoise)
    image_size: int = 256
    lr: float = 2e-4  # generator, keypoint detector, head-pose estimator and discriminator alike
    betas: tuple[float, ...] = (0.5, 0.999)
    gan_mode: str = "hinge"
    vgg19: str = ""  # torchvision vgg19-dcbb9e9d.pth
    init: str = ""  # facevid2vid_00189-model.pth.tar to fine-tune from


class FaceVid2VidTask(Task[FaceVid2VidTrainConfig]):
    name = "facevid2vid"

    @classmethod
    def missing_inputs(cls, config: FaceVid2VidTrainConfig) -> list[str]:
        return (super().missing_inputs(config) + file_problems("vgg19", config.vgg19, VGG19_FILE)
                + file_problems("init", config.init, RENDERER_FILE, required=False, holds=RENDERER))

    def __init__(self, config: FaceVid2VidTrainConfig, ctx) -> None:
        super().__init__(config, ctx)
        device = ctx.device
        self.kp_detector = KPDetector(config.render.kp_detector).to(device)
        self.he_estimator = HEEstimator(config.render.he_estimator).to(device)
        self.generator = OcclusionAwareSPADEGenerator(config.render.generator).to(device)
        self.discriminator = MultiScaleDiscriminator(config.discriminator).to(device)
        if config.init:
            for name in RENDERER:
                load_section_into(getattr(self, name), config.init, name)
        self.modules = {name: getattr(self, name) for name in (*RENDERER, "discriminator")}
        self.trainable = dict(self.modules)
        self.perceptual = PerceptualLoss(load_vgg19(config.vgg19), config.loss.perceptual).to(device)
        self.pyramid = ImagePyramid(config.discriminator.scales).to(device)
        self.dataset = FramePairs(PreparedData(Path(config.run.data)), config.run.seed, config.image_size,
                                  tps=config.tps)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        betas = (self.config.betas[0], self.config.betas[1])
        return adam_per_network(self.trainable, {name: self.config.lr for name in self.trainable}, betas)

    def render(self, source: torch.Tensor, driving: torch.Tensor, warped: torch.Tensor, nets: dict):
        """Keypoints of the three frames and the source rendered with the driving keypoints."""
        kp_canonical = nets["kp_detector"](source)
        batch = source.shape[0]
        poses = nets["he_estimator"](torch.cat([source, driving, warped]))
        source_pose, rest = split_pose(poses, batch)
        driving_pose, warped_pose = split_pose(rest, batch)
        kp_source, kp_driving, kp_warped = (posed_keypoints(kp_canonical, p) for p in (source_pose, driving_pose, warped_pose))
        prediction = nets["generator"](source, kp_driving, kp_source).prediction
        return prediction, driving_pose, kp_driving, kp_warped

    def training_step(self, batch: dict[str, torch.Tensor], opt: Optimization) -> dict[str, torch.Tensor]:
        weights, mode = self.config.loss, self.config.gan_mode
        source, driving = batch["source"], batch["driving"]
        warp = ThinPlateWarp(batch["tps_affine"], batch["tps_control"])
        with opt.autocast():
            prediction, pose, kp_driving, kp_warped = self.render(source, driving, warp.warp_image(driving), self.ddp)
            prediction = upcast(prediction)
            losses = {"perceptual": self.perceptual(prediction, driving)}
            with frozen(self.discriminator):
                fake = self.discriminator(self.pyramid(prediction))
                real = self.discriminator(self.pyramid(driving))
            losses["gan_g"] = sum(generator_adversarial(upcast(logits), mode) for _, logits in fake)
            losses["feature_matching"] = sum(feature_matching(r[0], f[0], weights.feature_matching)
                                             for r, f in zip(real, fake))
            back = warp.warp(upcast(kp_warped[..., :2]))
            losses["equivariance"] = (upcast(kp_driving[..., :2]) - back).abs().mean()
            losses["keypoint"] = keypoint_prior(upcast(kp_driving))
            losses["headpose"] = head_pose_loss(pose, renderer_degrees(batch["driving_angles"]))
            losses["expression"] = deformation_prior(pose)
            total = (losses["perceptual"] + weights.generator_gan * losses["gan_g"] + losses["feature_matching"]
                     + weights.equivariance * losses["equivariance"] + weights.keypoint * losses["keypoint"]
                     + weights.headpose * losses["headpose"] + weights.expression * losses["expression"])
        opt.step(total, *RENDERER)
        with opt.autocast():
            both = self.ddp["discriminator"](self.pyramid(torch.cat([driving, prediction.detach()])))
            count = driving.shape[0]
            losses["gan_d"] = weights.discriminator_gan * sum(
                discriminator_adversarial(upcast(logits[:count]), upcast(logits[count:]), mode) for _, logits in both)
        opt.step(losses["gan_d"], "discriminator")
        return {"total": total, **losses}

    def sample(self, batch: dict[str, torch.Tensor], folder: Path, step: int) -> None:
        """Rows: source, driving, rendering."""
        nets = {name: getattr(self, name) for name in RENDERER}
        driving = batch["driving"]
        prediction = self.render(batch["source"], driving, driving, nets)[0]
        save_image_grid(folder / f"step_{step:08d}.png", [batch["source"], driving, prediction])

    def export(self, folder: Path, step: int) -> list[Path]:
        return [write_official(folder / FACEVID2VID_FILE,
                               {name: getattr(self, name).state_dict() for name in RENDERER}, epoch=step)]


if __name__ == "__main__":
    sys.exit(main(FaceVid2VidTask, FaceVid2VidTrainConfig, description=__doc__.split("\n\n")[0]))
