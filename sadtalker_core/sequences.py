"""Expression and head-pose sequences: the two halves of a :class:`~sadtalker_core.motion.Motion`,
made apart (ExpNet; PoseVAE, a reference video, the source's still head) and joined for rendering.

* :class:`ExpressionSequence`: ExpNet's (T, 64) expressions and the blink ratio it was given;
* :class:`PoseSequence`: (N, 6) head poses (angles in radians + translation), optionally with
  free-view keyframes that replace the rendered head angles (official ``--input_yaw`` ...);
* :func:`combine_motion`: the expression's T frames decide the clip's length; a pose sequence of
  another length is repeated from its start or cut (the official rule for reference videos), so
  a one-frame pose holds the head still for the whole clip.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .config import AudioConfig
from .motion import COEFF_DIM, EXP_DIM, Motion
from .motion_sources import add_reference_pose, free_view, resample_sequence, scale_pose
from .networks.posevae import POSE_DIM

FPS = AudioConfig().fps


def _check_fps(fps: int) -> None:
    if int(fps) != fps or fps < 1:
        raise ValueError(f"fps must be a positive whole number, got {fps}")


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
    spread over the rendered clip and replaces that head angle, see
    :func:`~sadtalker_core.motion_sources.camera_keyframes`)."""

    pose: torch.Tensor
    fps: int = FPS
    yaw: tuple[float, ...] | None = None
    pitch: tuple[float, ...] | None = None
    roll: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.pose.ndim != 2 or self.pose.shape[1] != POSE_DIM or self.pose.shape[0] < 1:
            raise ValueError(f"poses must be (N, {POSE_DIM}) with N >= 1, got {tuple(self.pose.shape)}")
        _check_fps(self.fps)
        for name in ("yaw", "pitch", "roll"):
            keys = getattr(self, name)
            if keys is not None:
                object.__setattr__(self, name, tuple(float(k) for k in keys))
        free_view(self.yaw, self.pitch, self.roll, 1)  # refuses empty or non-finite keyframe lists

    @property
    def num_frames(self) -> int:
        return int(self.pose.shape[0])

    @property
    def has_free_view(self) -> bool:
        return not (self.yaw is None and self.pitch is None and self.roll is None)

    @classmethod
    def still(cls, source_coeff: torch.Tensor, fps: int = FPS) -> PoseSequence:
        """The source face's own head pose (coefficients 64:70 of its 73), held: one frame, the
        official ``--still`` head."""
        flat = source_coeff.reshape(-1)
        if flat.shape[0] < COEFF_DIM:
            raise ValueError(f"source coefficients must hold at least {COEFF_DIM} values, "
                             f"got {tuple(source_coeff.shape)}")
        return cls(flat[EXP_DIM:COEFF_DIM].reshape(1, POSE_DIM).float(), fps)


def with_reference_motion(pose: PoseSequence, ref_pose: torch.Tensor) -> PoseSequence:
    """``pose`` plus a reference video's head movement relative to its first frame (official
    ``--ref_pose``: :func:`~sadtalker_core.motion_sources.add_reference_pose`).  A held
    (one-frame) pose follows the whole reference video; a longer one keeps its length."""
    base = pose.pose
    if base.shape[0] == 1:
        base = resample_sequence(base, ref_pose.shape[0] if ref_pose.ndim == 2 else 1)
    return dataclasses.replace(pose, pose=add_reference_pose(base, ref_pose))


def with_head_motion_scale(pose: PoseSequence, scale: float) -> PoseSequence:
    """Head-motion strength relative to the first frame (:func:`~sadtalker_core.motion_sources.scale_pose`)."""
    return dataclasses.replace(pose, pose=scale_pose(pose.pose, scale))


def with_free_view(pose: PoseSequence, yaw: Sequence[float] | None = None, pitch: Sequence[float] | None = None,
                   roll: Sequence[float] | None = None) -> PoseSequence:
    """``pose`` with free-view keyframes (degrees) for the angles given; the others keep theirs."""
    return dataclasses.replace(
        pose,
        yaw=pose.yaw if yaw is None else tuple(yaw),
        pitch=pose.pitch if pitch is None else tuple(pitch),
        roll=pose.roll if roll is None else tuple(roll),
    )


def combine_motion(expression: ExpressionSequence, pose: PoseSequence) -> Motion:
    """One clip's :class:`Motion`, on the CPU (the renderer moves it to its device a batch at a
    time): the expression's frames, the pose repeated from its start or cut to them.  Free-view
    keyframes are not part of a Motion: give them to the renderer."""
    if expression.fps != pose.fps:
        raise ValueError(f"the expression is at {expression.fps} fps but the pose at {pose.fps} fps; "
                         "make both at the same frame rate")
    cpu = torch.device("cpu")
    poses = resample_sequence(pose.pose.to(cpu), expression.num_frames).to(expression.expression.dtype)
    blink = None if expression.blink is None else expression.blink.to(cpu)
    return Motion(expression.expression.to(cpu), poses, expression.fps, blink)


def split_motion(motion: Motion) -> tuple[ExpressionSequence, PoseSequence]:
    """A :class:`Motion` (e.g. a loaded motion file) as its expression and pose sequences."""
    return ExpressionSequence(motion.expression, motion.blink, motion.fps), PoseSequence(motion.pose, motion.fps)
