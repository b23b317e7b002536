"""Audio -> 3DMM motion coefficients of one clip (the official ``Audio2Coeff.generate`` without
the optional reference pose video): ExpNet's expressions (:mod:`.expression`) and PoseVAE's head
pose (:mod:`.pose`) as one :class:`~.sequences.Motion`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..networks.expnet import ExpNet, load_expnet
from ..networks.posevae import PoseVAE, load_posevae
from .expression import audio_to_expression
from .pose import audio_to_pose
from .sequences import Motion


@dataclass(frozen=True)
class MotionNets:
    """The two audio networks, in eval mode, on one device."""

    expnet: ExpNet
    posevae: PoseVAE


def load_motion_nets(
    exp_checkpoint: str | os.PathLike,
    pose_checkpoint: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
) -> MotionNets:
    """Both networks; ``pose_checkpoint`` defaults to ``exp_checkpoint`` (the bundle holds both)."""
    return MotionNets(load_expnet(exp_checkpoint, device), load_posevae(pose_checkpoint or exp_checkpoint, device))


def audio_to_motion(
    nets: MotionNets,
    mels: torch.Tensor,
    ref_coeff: torch.Tensor,
    blink: torch.Tensor | None = None,
    pose_style: int = 0,
    z: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Motion:
    """One video's motion (the official ``Audio2Coeff.generate`` without the optional reference
    pose video): :func:`audio_to_expression` + :func:`audio_to_pose`.

    ``mels``: (1, T, 1, 80, 16) windows (:meth:`AudioFeatures.mel_batch`); ``ref_coeff``: the
    source face's 70 coefficients, (70,) or per frame (T, 70) (per-frame expressions replace β0,
    e.g. from a reference blink video; the pose reference is frame 0's); ``blink``: (T,) ratio,
    zeros when None; ``pose_style``: 0..45; ``z`` / ``generator``: see :func:`sample_pose_motion`.
    """
    pose = audio_to_pose(nets.posevae, mels, ref_coeff, pose_style, z, generator)
    expression = audio_to_expression(nets.expnet, mels, ref_coeff, blink)
    ratio = None if blink is None else blink.to(device=mels.device, dtype=mels.dtype)
    return Motion(expression=expression, pose=pose, blink=ratio)
