"""The objectives of the SadTalker and face-vid2vid papers, as plain functions of tensors.

Adversarial terms come in the two forms the face-vid2vid code offers (``"hinge"``, ``"ls"``
least squares); the perceptual loss is the image-pyramid VGG-19 L1 of face-vid2vid.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sadtalker_core.errors import SettingError
from sadtalker_core.networks.blocks import AntiAliasInterpolation2d
from sadtalker_core.networks.mapping import HeadPose
from sadtalker_core.render.keypoints import bins_to_degrees

GAN_MODES = ("hinge", "ls")
HALF = (torch.float16, torch.bfloat16)


def upcast(tensor: torch.Tensor) -> torch.Tensor:
    """Autocast's half-precision outputs as float32 for the loss arithmetic; float32 and float64
    tensors unchanged."""
    return tensor.float() if tensor.dtype in HALF else tensor


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)), summed over the latent, averaged over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=-1)).mean()


def generator_adversarial(fake_logits: torch.Tensor, mode: str) -> torch.Tensor:
    """The generator's adversarial loss on the discriminator's logits for its outputs."""
    if mode == "hinge":
        return -fake_logits.mean()
    if mode == "ls":
        return (1 - fake_logits).pow(2).mean()
    raise SettingError(f"gan mode must be one of {GAN_MODES}, got {mode!r}")


def discriminator_adversarial(real_logits: torch.Tensor, fake_logits: torch.Tensor, mode: str) -> torch.Tensor:
    """The discriminator's loss: real -> 1, fake -> 0 (least squares) or -1 (hinge margins)."""
    if mode == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    if mode == "ls":
        return (1 - real_logits).pow(2).mean() + fake_logits.pow(2).mean()
    raise SettingError(f"gan mode must be one of {GAN_MODES}, got {mode!r}")


class ImagePyramid(nn.Module):
    """An image at several scales (anti-aliased downsampling), keyed by scale."""

    def __init__(self, scales: Sequence[float], channels: int = 3) -> None:
        super().__init__()
        self.scales = tuple(scales)
        self.down = nn.ModuleList(nn.Identity() if s == 1 else AntiAliasInterpolation2d(channels, s) for s in self.scales)

    def forward(self, image: torch.Tensor) -> dict[float, torch.Tensor]:
        return {scale: down(image) for scale, down in zip(self.scales, self.down)}


@dataclass(frozen=True)
class PerceptualWeights:
    """Pyramid scales and per-layer weights of the perceptual loss (face-vid2vid's vox-256.yaml)."""

    scales: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125)
    layers: tuple[float, ...] = (10.0, 10.0, 10.0, 10.0, 10.0)


class PerceptualLoss(nn.Module):
    """Σ over pyramid scales and VGG layers of ``weight * |vgg(pred) - vgg(target)|``, targets
    detached (face-vid2vid's perceptual term).  ``features`` maps a [0, 1] image to a list of
    feature maps (``vgg.VGG19Features``); it is frozen here."""

    def __init__(self, features: nn.Module, weights: PerceptualWeights) -> None:
        super().__init__()
        self.features = features.eval().requires_grad_(False)
        self.pyramid = ImagePyramid(weights.scales)
        self.weights = weights.layers

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.features.eval()  # the VGG always uses its stored statistics
        return self

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = prediction.new_zeros(())
        predicted, wanted = self.pyramid(prediction), self.pyramid(target)
        for scale in self.pyramid.scales:
            for weight, a, b in zip(self.weights, self.features(predicted[scale]), self.features(wanted[scale])):
                total = total + weight * (a - b.detach()).abs().mean()
        return total


def feature_matching(real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """Σ ``weight * |D_i(real) - D_i(fake)|`` over the discriminator's intermediate feature maps."""
    total = fake[0].new_zeros(())
    for weight, a, b in zip(weights, real, fake):
        total = total + weight * (a.detach() - b).abs().mean()
    return total


def keypoint_prior(kp: torch.Tensor, distance: float = 0.1, depth: float = 0.33) -> torch.Tensor:
    """face-vid2vid's keypoint prior on (B, K, 3) keypoints: distinct keypoints closer than
    ``distance`` (squared distance) are pushed apart, and their mean depth pulled to ``depth``."""
    squared = (kp.unsqueeze(2) - kp.unsqueeze(1)).pow(2).sum(-1)
    off_diagonal = ~torch.eye(kp.shape[1], dtype=torch.bool, device=kp.device)
    spread = F.relu(distance - squared)[:, off_diagonal].mean(0).sum()
    return spread + (kp[..., 2].mean(-1) - depth).abs().mean()


def head_pose_loss(pose: HeadPose, degrees: torch.Tensor) -> torch.Tensor:
    """L1 between the predicted (yaw, pitch, roll) in degrees and target ``degrees`` (B, 3)."""
    predicted = torch.stack([bins_to_degrees(pose.yaw), bins_to_degrees(pose.pitch), bins_to_degrees(pose.roll)], 1)
    return (predicted - degrees).abs().mean(0).sum()


def deformation_prior(pose: HeadPose) -> torch.Tensor:
    """L1 norm of the keypoint expression deviations δ, averaged over the batch."""
    return pose.exp.abs().sum(-1).mean()
