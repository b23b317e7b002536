"""Free-view camera: keyframe lists of head angles in degrees (official ``--input_yaw`` /
``--input_pitch`` / ``--input_roll``, ``gen_camera_pose``) spread over the clip, replacing the
rendered head angles frame by frame.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError


@dataclass(frozen=True)
class PoseOverride:
    """Free-view head angles in degrees, each (bs,) or None; a given angle replaces the one
    predicted from the bins (official ``yaw_in`` / ``pitch_in`` / ``roll_in``)."""

    yaw: torch.Tensor | None = None
    pitch: torch.Tensor | None = None
    roll: torch.Tensor | None = None

    def select(self, index: torch.Tensor) -> PoseOverride:
        """The angles of the frames ``index`` when each angle is a per-frame sequence."""
        return PoseOverride(*(None if a is None else a[index.to(a.device)] for a in (self.yaw, self.pitch, self.roll)))


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
        raise InputError("free-view keyframes: give at least one angle in degrees (or None for no override)")
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"free-view keyframes must be finite degrees, got {values}")
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
