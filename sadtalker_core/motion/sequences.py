"""Motion and its two halves: what the motion stage hands to the renderer.

* :class:`Motion`: per-frame expression (T, 64) + head pose (T, 6) of one clip, and the free-view
  keyframes its pose carries;
* :class:`ExpressionSequence`: ExpNet's (T, 64) expressions and the blink ratio it was given; its
  :meth:`~ExpressionSequence.scaled` is the expression scale (official ``--expression_scale``);
* :class:`PoseSequence`: (N, 6) head poses (angles in radians + translation), optionally with
  free-view keyframes that replace the rendered head angles (official ``--input_yaw`` ...);
* :func:`combine_motion`: the expression's T frames decide the clip's length; a pose sequence of
  another length is repeated from its start or cut (:func:`resample_sequence`, the official rule
  for reference videos), so a one-frame pose holds the head still for the whole clip;
* pose edits on tensors: a reference video's head movement (:func:`add_reference_pose`, official
  ``--ref_pose``) and the head-motion strength (:func:`scale_pose`).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..config import AudioConfig, ExpNetConfig
from ..errors import InputError
from ..networks.posevae import POSE_DIM
from .free_view import FreeView

FPS = AudioConfig().fps
EXP_DIM = ExpNetConfig().exp_dim
COEFF_DIM = EXP_DIM + POSE_DIM  # 70: [expression 64, angles 3, translation 3]


@dataclass(frozen=True)
class Motion:
    """Per-frame motion of one video: ``expression`` (T, 64) and ``pose`` (T, 6) = angles (3, radians)
    + translation (3), at ``fps``; ``blink`` (T,) is the blink ratio ExpNet was conditioned on;
    ``free_view``: keyframes replacing the rendered head angles (not stored in motion files)."""

    expression: torch.Tensor
    pose: torch.Tensor
    fps: int = FPS
    blink: torch.Tensor | None = None
    free_view: FreeView = FreeView()

    def __post_init__(self) -> None:
        frames = self.expression.shape[0]
        if self.expression.shape != (frames, EXP_DIM) or self.pose.shape != (frames, POSE_DIM):
            raise ValueError(
                f"Motion needs expression (T, {EXP_DIM}) and pose (T, {POSE_DIM}) of the same T; "
                f"got {tuple(self.expression.shape)} and {tuple(self.pose.shape)}"
            )
        if self.blink is not None and self.blink.shape != (frames,):
            raise ValueError(f"Motion blink must be ({frames},), got {tuple(self.blink.shape)}")

    @property
    def num_frames(self) -> int:
        return int(self.expression.shape[0])

    def coeff_70(self) -> torch.Tensor:
        """(T, 70) in the official layout [expression 64, angles 3, translation 3] (the saved .mat)."""
        return torch.cat([self.expression, self.pose], dim=-1)


def source_motion_coeff(source_coeff: torch.Tensor) -> torch.Tensor:
    """The source face's 70 motion coefficients, (70,) float32, from its row of coefficients:
    (70,) / (73,) or (1, 70) / (1, 73) (the 73-d row ends with the crop values)."""
    flat = source_coeff.reshape(-1)
    if source_coeff.ndim > 2 or (source_coeff.ndim == 2 and source_coeff.shape[0] != 1) or flat.shape[0] < COEFF_DIM:
        raise ValueError(f"source coefficients must be one face's, (70,) / (73,) or (1, 70) / (1, 73), "
                         f"got {tuple(source_coeff.shape)}")
    return flat[:COEFF_DIM].to(torch.float32)


def resample_sequence(seq: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(N, C) -> (num_frames, C): frame ``t`` is ``seq[t % N]`` (a short sequence repeats from its
    start, a long one is cut), the official rule for reference videos."""
    if seq.ndim != 2 or seq.shape[0] < 1:
        raise ValueError(f"a reference sequence must be (N, C) with N >= 1 frames, got {tuple(seq.shape)}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    index = torch.arange(num_frames, device=seq.device) % seq.shape[0]
    return seq[index]


def check_sequence(values: torch.Tensor, width: int, name: str) -> torch.Tensor:
    """``values`` itself when it is (N, ``width``) with N >= 1, else an error naming ``name``."""
    if values.ndim != 2 or values.shape[1] != width or values.shape[0] < 1:
        raise ValueError(f"{name} must be (N, {width}) with N >= 1 frames, got {tuple(values.shape)}")
    return values


def add_reference_pose(pose: torch.Tensor, ref_pose: torch.Tensor) -> torch.Tensor:
    """Poses (T, 6) with a reference video's head movement added (official ``using_refpose``).

    ``ref_pose``: (N, 6) poses of the reference video (coefficients 64:70 of its frames).  Frame
    ``t`` gets ``ref[t % N] - ref[0]`` added, so frame 0 keeps its pose and the video's movement
    follows.
    """
    if pose.ndim != 2 or pose.shape[1] != POSE_DIM or pose.shape[0] < 1:
        raise ValueError(f"pose must be (T, {POSE_DIM}) with T >= 1 frames, got {tuple(pose.shape)}")
    ref = check_sequence(ref_pose, POSE_DIM, "ref_pose").to(device=pose.device, dtype=pose.dtype)
    ref = resample_sequence(ref, pose.shape[0])
    return pose + (ref - ref[:1])


def scale_pose(pose: torch.Tensor, scale: float) -> torch.Tensor:
    """Head-motion strength of (T, 6) poses: ``pose[0] + scale * (pose - pose[0])`` for angles and
    translation; 1 returns ``pose`` itself, 0 holds the first frame's pose, above 1 exaggerates."""
    if not math.isfinite(scale):
        raise InputError(f"head motion scale must be a finite number, got {scale}")
    if scale == 1:
        return pose
    first = pose[:1]
    return first + scale * (pose - first)


def _check_fps(fps: int) -> None:
    if int(fps) != fps or fps < 1:
        raise InputError(f"fps must be a positive whole number, got {fps}")


@dataclass(frozen=True)
class ExpressionSequence:
    """Per-frame expressions (T, 64) at ``fps``; ``blink`` (T,) is the ratio ExpNet was
    conditioned on (None: none, e.g. blinks taken from a reference video)."""

    expression: torch.Tensor
    blink: torch.Tensor | None = None
    fps: int = FPS

    def __post_init__(self) -> None:
        frames = self.expression.shape[0] if self.expression.ndim == 2 else 0
        if self.expression.ndim != 2 or self.expression.shape[1] != EXP_DIM or frames < 1:
            raise ValueError(f"expressions must be (T, {EXP_DIM}) with T >= 1, got {tuple(self.expression.shape)}")
        if self.blink is not None and self.blink.shape != (frames,):
            raise ValueError(f"blink must be ({frames},), got {tuple(self.blink.shape)}")
        _check_fps(self.fps)

    @property
    def num_frames(self) -> int:
        return int(self.expression.shape[0])

    def scaled(self, scale: float) -> ExpressionSequence:
        """Expressions multiplied by ``scale`` (the official ``--expression_scale``: >1 livelier mouth
        and face, <1 calmer); 1 returns the same object."""
        if scale == 1:
            return self
        return dataclasses.replace(self, expression=self.expression * scale)


@dataclass(frozen=True)
class PoseSequence:
    """Head poses (N, 6) at ``fps``, and optional free-view keyframes in degrees (each list is
    spread over the rendered clip and replaces that head angle, see :class:`FreeView`)."""

    pose: torch.Tensor
    fps: int = FPS
    free_view: FreeView = FreeView()

    def __post_init__(self) -> None:
        if self.pose.ndim != 2 or self.pose.shape[1] != POSE_DIM or self.pose.shape[0] < 1:
            raise ValueError(f"poses must be (N, {POSE_DIM}) with N >= 1, got {tuple(self.pose.shape)}")
        _check_fps(self.fps)

    @property
    def num_frames(self) -> int:
        return int(self.pose.shape[0])

    @classmethod
    def still(cls, source_coeff: torch.Tensor, fps: int = FPS) -> PoseSequence:
        """The source face's own head pose (coefficients 64:70 of its 73), held: one frame, the
        official ``--still`` head."""
        return cls(source_motion_coeff(source_coeff)[EXP_DIM:].reshape(1, POSE_DIM), fps)


def with_reference_motion(pose: PoseSequence, ref_pose: torch.Tensor) -> PoseSequence:
    """``pose`` plus a reference video's head movement relative to its first frame (official
    ``--ref_pose``: :func:`add_reference_pose`).  A held
    (one-frame) pose follows the whole reference video; a longer one keeps its length."""
    base = pose.pose
    if base.shape[0] == 1:
        base = resample_sequence(base, ref_pose.shape[0] if ref_pose.ndim == 2 else 1)
    return dataclasses.replace(pose, pose=add_reference_pose(base, ref_pose))


def with_head_motion_scale(pose: PoseSequence, scale: float) -> PoseSequence:
    """Head-motion strength relative to the first frame (:func:`scale_pose`)."""
    return dataclasses.replace(pose, pose=scale_pose(pose.pose, scale))


def with_free_view(pose: PoseSequence, yaw: Sequence[float] | None = None, pitch: Sequence[float] | None = None,
                   roll: Sequence[float] | None = None) -> PoseSequence:
    """``pose`` with free-view keyframes (degrees) for the angles given; the others keep theirs."""
    return dataclasses.replace(pose, free_view=pose.free_view.with_angles(yaw, pitch, roll))


def combine_motion(expression: ExpressionSequence, pose: PoseSequence) -> Motion:
    """One clip's :class:`Motion`, on the CPU (the renderer moves it to its device a batch at a
    time): the expression's frames, the pose repeated from its start or cut to them, and the
    pose's free-view keyframes."""
    if expression.fps != pose.fps:
        raise InputError(f"the expression is at {expression.fps} fps but the pose at {pose.fps} fps; "
                         "make both at the same frame rate")
    cpu = torch.device("cpu")
    poses = resample_sequence(pose.pose.to(cpu), expression.num_frames).to(expression.expression.dtype)
    blink = None if expression.blink is None else expression.blink.to(cpu)
    return Motion(expression.expression.to(cpu), poses, expression.fps, blink, pose.free_view)


def split_motion(motion: Motion) -> tuple[ExpressionSequence, PoseSequence]:
    """A :class:`Motion` (e.g. a loaded motion file) as its expression and pose sequences."""
    return (ExpressionSequence(motion.expression, motion.blink, motion.fps),
            PoseSequence(motion.pose, motion.fps, motion.free_view))
