"""Where head motion and blinks come from, besides the audio: reference videos, a still head,
a head-motion strength, and free-view camera keyframes.

Pure functions on tensors and :class:`~sadtalker_core.motion.Motion`, following the official code:

* reference pose video (``--ref_pose``, ``Audio2Coeff.using_refpose``): the video's poses,
  repeated / trimmed to the clip, are added *relative to its first frame* on top of the generated
  (already smoothed) pose;
* reference blink video (``--ref_eyeblink``, ``get_data``): the video's expressions, repeated /
  trimmed, replace the source expression β0 of every frame and the blink ratio is zero;
* free view (``--input_yaw/pitch/roll``, ``gen_camera_pose``): keyframe lists spread over the clip.

Both references cycle a short video from its start (N=3, T=8 -> frames 0,1,2,0,1,2,0,1) and cut a
long one to the first T frames: :func:`resample_sequence`.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch

from .keypoints import PoseOverride
from .motion import COEFF_DIM, EXP_DIM, Motion
from .networks.posevae import POSE_DIM


def resample_sequence(seq: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(N, C) -> (num_frames, C): frame ``t`` is ``seq[t % N]`` (a short sequence repeats from its
    start, a long one is cut), the official rule for reference videos."""
    if seq.ndim != 2 or seq.shape[0] < 1:
        raise ValueError(f"a reference sequence must be (N, C) with N >= 1 frames, got {tuple(seq.shape)}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    index = torch.arange(num_frames, device=seq.device) % seq.shape[0]
    return seq[index]


def _sequence_of(values: torch.Tensor, width: int, name: str) -> torch.Tensor:
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
    ref = _sequence_of(ref_pose, POSE_DIM, "ref_pose").to(device=pose.device, dtype=pose.dtype)
    ref = resample_sequence(ref, pose.shape[0])
    return pose + (ref - ref[:1])


def reference_pose_motion(motion: Motion, ref_pose: torch.Tensor) -> Motion:
    """``motion`` with a reference video's head movement added (:func:`add_reference_pose`);
    expression, blink and fps are kept."""
    return dataclasses.replace(motion, pose=add_reference_pose(motion.pose, ref_pose))


def reference_expression(ref_expression: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(N, 64) expressions of a reference video -> (num_frames, 64) per-frame β0 (official
    ``ref_eyeblink``): the video's expressions, blinks included, repeated / trimmed."""
    return resample_sequence(_sequence_of(ref_expression, EXP_DIM, "ref_expression"), num_frames)


def reference_coeff(source_coeff: torch.Tensor, ref_expression: torch.Tensor, num_frames: int) -> torch.Tensor:
    """The (num_frames, 70) ``ref_coeff`` for :func:`~sadtalker_core.motion.audio_to_motion` with a
    reference blink video: the source's pose on every frame, β0 from :func:`reference_expression`.

    ``source_coeff``: the source face's coefficients, (70,) / (73,) or (1, 70) / (1, 73).  As in
    the official code, call ``audio_to_motion`` with ``blink=None`` (ratio zero): the eyes follow
    the reference video's expressions.
    """
    flat = source_coeff.reshape(-1)
    if source_coeff.ndim > 2 or (source_coeff.ndim == 2 and source_coeff.shape[0] != 1) or flat.shape[0] < COEFF_DIM:
        raise ValueError(f"source_coeff must be one face's coefficients, (70,) / (73,) or (1, 70) / (1, 73), "
                         f"got {tuple(source_coeff.shape)}")
    expression = reference_expression(ref_expression, num_frames).to(device=flat.device, dtype=flat.dtype)
    pose = flat[EXP_DIM:COEFF_DIM].expand(num_frames, POSE_DIM)
    return torch.cat([expression, pose], dim=1)


def still_pose(motion: Motion, source_pose: torch.Tensor) -> Motion:
    """``motion`` with the head held at the source's pose on every frame (expression kept).

    ``source_pose``: the source's 6 pose values, (6,) or (1, 6) (coefficients 64:70 of its
    source vector).
    """
    if source_pose.numel() != POSE_DIM or source_pose.ndim > 2:
        raise ValueError(f"source_pose must hold the source's {POSE_DIM} pose values, (6,) or (1, 6) "
                         f"(coefficients 64:70), got {tuple(source_pose.shape)}")
    pose = source_pose.reshape(1, POSE_DIM).to(device=motion.pose.device, dtype=motion.pose.dtype)
    return dataclasses.replace(motion, pose=pose.expand(motion.num_frames, POSE_DIM).clone())


def scale_pose(pose: torch.Tensor, scale: float) -> torch.Tensor:
    """Head-motion strength of (T, 6) poses: ``pose[0] + scale * (pose - pose[0])`` for angles and
    translation; 1 returns ``pose`` itself, 0 holds the first frame's pose, above 1 exaggerates."""
    if not math.isfinite(scale):
        raise ValueError(f"head motion scale must be a finite number, got {scale}")
    if scale == 1:
        return pose
    first = pose[:1]
    return first + scale * (pose - first)


def scale_head_motion(motion: Motion, scale: float) -> Motion:
    """``motion`` with its head-motion strength scaled (:func:`scale_pose`), separate from the
    expression scale; 1 returns the same object."""
    if scale == 1:
        return motion
    return dataclasses.replace(motion, pose=scale_pose(motion.pose, scale))


def camera_keyframes(keyframes: Sequence[float], frame_num: int) -> torch.Tensor:
    """Free-view keyframe degrees -> (frame_num,) float32 degrees per frame (official
    ``gen_camera_pose`` without its batch padding and reshape).

    The total path ``sum |k[i+1] - k[i]|`` is walked at a constant ``total / (frame_num - 1)``
    degrees per frame: each segment contributes ``np.arange(k[i], k[i+1], step)`` (its end
    excluded), the list is cut to ``frame_num`` or padded with its last value.  So the last
    keyframe itself is usually not reached, exactly as in the official code.

    A single keyframe holds that angle.  Where the official code divides by zero this holds too:
    a segment between equal keyframes adds no frames, all-equal keyframes hold the angle, and a
    one-frame clip gets the first keyframe.
    """
    values = [float(k) for k in keyframes]
    if not values:
        raise ValueError("free-view keyframes: give at least one angle in degrees (or None for no override)")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"free-view keyframes must be finite degrees, got {values}")
    if frame_num < 1:
        raise ValueError(f"frame_num must be >= 1, got {frame_num}")
    total = 0.0
    for start, end in zip(values, values[1:]):
        total += abs(end - start)
    if total == 0 or frame_num == 1:
        return torch.full((frame_num,), values[0], dtype=torch.float32)

    per_frame = total / (frame_num - 1)
    degrees: list[float] = []
    for start, end in zip(values, values[1:]):
        if end != start:
            step = per_frame * abs(end - start) / (end - start)
            degrees.extend(np.arange(start, end, step).tolist())
    degrees = degrees[:frame_num] + [degrees[-1]] * (frame_num - len(degrees))
    return torch.tensor(degrees, dtype=torch.float64).to(torch.float32)


def free_view(yaw: Sequence[float] | None, pitch: Sequence[float] | None, roll: Sequence[float] | None,
              frame_num: int) -> PoseOverride | None:
    """Free-view camera: keyframe lists in degrees (each may be None) -> per-frame angles that
    replace the rendered head pose (:func:`camera_keyframes`); None when no list is given."""
    if yaw is None and pitch is None and roll is None:
        return None
    return PoseOverride(*(None if keys is None else camera_keyframes(keys, frame_num) for keys in (yaw, pitch, roll)))
