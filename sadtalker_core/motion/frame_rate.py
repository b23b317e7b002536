"""Motion at another frame rate: the official 25 fps coefficients retimed for a 24, 30 or 60 fps video.

The motion stage computes one frame per 40 ms of speech, as the official code does (the mel
windows and both networks are trained at 25 fps).  :func:`retime` then samples that motion at
the output rate: frame ``j`` shows time ``j / fps``, interpolated linearly between the two
motion frames around it (expression, translation and blink ratio; head angles are unwrapped
first so that an angle crossing ±π takes the short way).  Blinks and free-view keyframes thus
stay at their times, and the clip keeps its length: ``round(duration × fps)`` frames.
"""
from __future__ import annotations

import math

import torch

from ..config import MAX_FPS
from ..errors import InputError
from .sequences import Motion


def check_fps(fps: float) -> int:
    """``fps`` as a whole number of frames per second, or an :class:`InputError` saying what is wanted."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) \
            or int(fps) != fps or not 1 <= fps <= MAX_FPS:
        raise InputError(f"fps must be a whole number of frames per second from 1 to {MAX_FPS} (25 is the official "
                         f"rate), got {fps!r}")
    return int(fps)


def frame_count(duration: float, fps: int) -> int:
    """Frames of a clip of ``duration`` seconds at ``fps``: ``round(duration × fps)``, at least one."""
    return max(1, round(duration * fps))


def _unwrapped(angles: torch.Tensor) -> torch.Tensor:
    """(T, 3) angles in radians with jumps of more than π between frames turned into the short way."""
    steps = angles.diff(dim=0)
    wrapped = torch.remainder(steps + math.pi, 2 * math.pi) - math.pi
    return torch.cat([angles[:1], angles[:1] + torch.cumsum(wrapped, dim=0)])


def retime(motion: Motion, fps: int, duration: float | None = None) -> Motion:
    """``motion`` sampled at ``fps`` for a clip of ``duration`` seconds (default: the motion's own
    length).  At the motion's own rate and length it is returned unchanged."""
    fps = check_fps(fps)
    seconds = motion.num_frames / motion.fps if duration is None else float(duration)
    frames = frame_count(seconds, fps)
    if fps == motion.fps and frames == motion.num_frames:
        return motion
    last = motion.num_frames - 1
    position = (torch.arange(frames, dtype=torch.float64) * (motion.fps / fps)).clamp(max=last)
    below = position.floor().long()
    above = (below + 1).clamp(max=last)
    weight = (position - below).unsqueeze(1)

    def sample(values: torch.Tensor) -> torch.Tensor:
        wide = values.reshape(motion.num_frames, -1).double()
        return (wide[below] * (1 - weight) + wide[above] * weight).reshape(frames, *values.shape[1:])

    angles, translation = motion.pose[:, :3].double(), motion.pose[:, 3:]
    turns = torch.round((_unwrapped(angles) - angles) / (2 * math.pi))  # whole turns the unwrapping added
    nearest = position.round().long()
    angles = sample(_unwrapped(angles)) - 2 * math.pi * turns[nearest]
    pose = torch.cat([angles, sample(translation)], dim=1).to(motion.pose.dtype)
    blink = None if motion.blink is None else sample(motion.blink).to(motion.blink.dtype)
    return Motion(sample(motion.expression).to(motion.expression.dtype), pose, fps, blink, motion.free_view)
