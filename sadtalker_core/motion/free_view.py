"""Free-view camera: keyframe lists of head angles in degrees (official ``--input_yaw`` /
``--input_pitch`` / ``--input_roll``, ``gen_camera_pose``) spread over the clip, replacing the
rendered head angles frame by frame.  :class:`FreeView` holds the keyframes; a pose sequence and
the motion made from it carry them to the renderer (their one home).
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


def _angle_keys(keys: Sequence[float] | None, name: str) -> tuple[float, ...] | None:
    """Keyframes as a tuple of float degrees; None stays None (that angle is left as rendered)."""
    if keys is None:
        return None
    values = tuple(float(k) for k in keys)
    if not values:
        raise InputError(f"free-view {name} keyframes: give at least one angle in degrees (or None for no override)")
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"free-view {name} keyframes must be finite degrees, got {list(values)}")
    return values


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
    values = list(_angle_keys(keyframes, "angle"))
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


@dataclass(frozen=True)
class FreeView:
    """Free-view keyframes in degrees for each head angle; an angle's list is spread over the
    rendered clip (:func:`camera_keyframes`) and replaces that angle, None leaves it as rendered.
    ``FreeView()`` changes nothing."""

    yaw: tuple[float, ...] | None = None
    pitch: tuple[float, ...] | None = None
    roll: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("yaw", "pitch", "roll"):
            object.__setattr__(self, name, _angle_keys(getattr(self, name), name))

    @property
    def is_set(self) -> bool:
        return not (self.yaw is None and self.pitch is None and self.roll is None)

    def with_angles(self, yaw: Sequence[float] | None = None, pitch: Sequence[float] | None = None,
                    roll: Sequence[float] | None = None) -> FreeView:
        """These keyframes with those given replacing theirs (an angle given None keeps its own)."""
        return FreeView(*(mine if given is None else given
                          for mine, given in ((self.yaw, yaw), (self.pitch, pitch), (self.roll, roll))))

    def per_frame(self, frame_num: int) -> PoseOverride | None:
        """The angles of each of ``frame_num`` frames that replace the rendered ones; None when no
        keyframes are set."""
        if not self.is_set:
            return None
        return PoseOverride(*(None if keys is None else camera_keyframes(keys, frame_num)
                              for keys in (self.yaw, self.pitch, self.roll)))
