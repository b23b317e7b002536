"""Audio -> motion, the motion stage's entries (the official ``Audio2Coeff.generate`` with the blink
schedule of ``get_data`` and the ``--ref_eyeblink`` / ``--ref_pose`` references):

* :func:`make_expression`: ExpNet's expression of every video frame (:mod:`.expression`);
* :func:`make_pose`: PoseVAE's head pose of every video frame (:mod:`.pose`);
* :func:`make_motion`: both as one clip's :class:`~.sequences.Motion`, with the options a user sets
  (:class:`MotionOptions`).

They read the mel windows the networks take (:meth:`~.audio.AudioFeatures.mel_batch`, on the
networks' device) and the source face's coefficients.  The command line, the library's
:func:`~sadtalker_core.pipeline.generate`, the ExpNet / PoseVAE nodes and the conformance goldens
all run these.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum

import torch

from ..networks.expnet import ExpNet, load_expnet
from ..networks.posevae import PoseVAE, load_posevae
from .blink import random_blink_ratio
from .expression import audio_to_expression, reference_coeff
from .pose import audio_to_pose
from .sequences import (
    FPS,
    ExpressionSequence,
    Motion,
    PoseSequence,
    combine_motion,
    source_motion_coeff,
    with_head_motion_scale,
    with_reference_motion,
)


class BlinkMode(str, Enum):
    RANDOM = "random"  # the official random blink schedule
    OFF = "off"  # no blink condition (ExpNet ratio 0)


@dataclass(frozen=True)
class MotionOptions:
    """How the motion is made from the audio (official ``inference.py`` options + ours)."""

    pose_style: int = 0  # one of the loaded PoseVAE's styles (0..45 in the official files), checked by make_pose
    blink: BlinkMode = BlinkMode.RANDOM
    seed: int | None = None  # seeds the blink schedule and PoseVAE's noise; None: the global RNGs (official)
    head_motion_scale: float = 1.0  # 0: no head motion, 1: as generated, >1: livelier

    def __post_init__(self) -> None:
        object.__setattr__(self, "blink", BlinkMode(self.blink))


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


def make_expression(expnet: ExpNet, mels: torch.Tensor, source_coeff: torch.Tensor,
                    blink: BlinkMode | str = BlinkMode.RANDOM, seed: int | None = None,
                    reference: Motion | None = None, blink_ratio: torch.Tensor | None = None,
                    fps: int = FPS) -> ExpressionSequence:
    """ExpNet's expression of the source face for every video frame of ``mels`` (1, T, 1, 80, 16).

    ``blink``: the official random blink schedule (seeded by ``seed``) or none.  A ``reference``
    (e.g. the 3DMM motion of a video) gives per-frame β0 instead, so the eyes follow it and the
    random schedule is off (the official ``--ref_eyeblink``).  ``blink_ratio`` (T,) stands in for
    the schedule (e.g. a recorded run's), as ``z`` does for PoseVAE's draws in :func:`make_pose`.
    """
    frames = mels.shape[1]
    ref = source_motion_coeff(source_coeff)
    if reference is not None:
        ref = reference_coeff(ref, reference.expression, frames)
    elif blink_ratio is None and BlinkMode(blink) is BlinkMode.RANDOM:
        blink_ratio = torch.from_numpy(random_blink_ratio(frames, seed))
    if blink_ratio is not None:
        blink_ratio = blink_ratio.to(mels.device)
    expression = audio_to_expression(expnet, mels, ref.to(mels.device), blink_ratio)
    return ExpressionSequence(expression, blink_ratio, fps)


def make_pose(posevae: PoseVAE, mels: torch.Tensor, source_coeff: torch.Tensor, pose_style: int = 0,
              seed: int | None = None, z: torch.Tensor | None = None, fps: int = FPS) -> PoseSequence:
    """PoseVAE's head pose of the source face for every video frame of ``mels`` (smoothed).

    ``pose_style``: one of the loaded PoseVAE's styles (checked here, the one place); ``seed``
    seeds PoseVAE's noise (None: torch's global RNG, as the official code); ``z`` injects the
    draws themselves (:func:`~.pose.sample_pose_motion`).
    """
    generator = None
    if seed is not None and z is None:
        generator = torch.Generator(device="cpu").manual_seed(seed)
    ref = source_motion_coeff(source_coeff).to(mels.device)
    return PoseSequence(audio_to_pose(posevae, mels, ref, pose_style, z, generator), fps)


def make_motion(nets: MotionNets, mels: torch.Tensor, source_coeff: torch.Tensor,
                options: MotionOptions = MotionOptions(), reference: Motion | None = None,
                reference_pose: Motion | None = None, z: torch.Tensor | None = None,
                blink_ratio: torch.Tensor | None = None, fps: int = FPS) -> Motion:
    """One clip's motion: :func:`make_expression` + :func:`make_pose` with ``options``.

    ``reference`` gives the eyes per-frame β0 (``--ref_eyeblink``); ``reference_pose`` adds its head
    motion relative to its first frame (``--ref_pose``); ``z`` and ``blink_ratio`` inject the two
    random draws (PoseVAE's latents, the blink schedule).
    """
    expression = make_expression(nets.expnet, mels, source_coeff, options.blink, options.seed, reference,
                                 blink_ratio, fps)
    pose = make_pose(nets.posevae, mels, source_coeff, options.pose_style, options.seed, z, fps)
    if reference_pose is not None:
        pose = with_reference_motion(pose, reference_pose.pose)
    return combine_motion(expression, with_head_motion_scale(pose, options.head_motion_scale))
