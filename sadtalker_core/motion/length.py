"""Which video frame each output frame of a dubbed video shows, when speech and video differ in length.

A dub has one output frame per speech frame, and each output frame is one frame of the source
video.  Speech shorter than the video: the output ends with the speech (the video's first frames).
Speech longer, by :class:`LengthPolicy`:

* ``pingpong`` (default): the video plays forward, then backward, then forward again ... until
  the speech ends; the turning frames are shown once (0, 1, .., N-1, N-2, .., 1, 0, 1, ..), so
  the head never jumps;
* ``loop``: the video starts over from its first frame (a jump at every restart);
* ``cut``: the output ends with the video; the speech is cut to it.

:func:`video_frame_index` is the mapping of one output frame, :func:`frame_indices` of them all.
"""
from __future__ import annotations

from enum import Enum

from ..errors import InputError


class LengthPolicy(str, Enum):
    PINGPONG = "pingpong"  # forward, backward, forward ... (no repeated frame at the turns)
    LOOP = "loop"  # from the start again
    CUT = "cut"  # the output stops with the video


def length_policy(policy: LengthPolicy | str) -> LengthPolicy:
    """``policy`` as a :class:`LengthPolicy`, or an :class:`InputError` listing the choices."""
    try:
        return LengthPolicy(policy)
    except ValueError:
        choices = ", ".join(p.value for p in LengthPolicy)
        raise InputError(f"unknown length policy {policy!r}: use one of {choices}") from None


def _check_counts(video_frames: int, speech_frames: int) -> None:
    if video_frames < 1:
        raise InputError(f"the video has no frames (got {video_frames}); give a video with at least one frame")
    if speech_frames < 1:
        raise InputError(f"the speech has no frames (got {speech_frames}); give at least 1/25 s of speech")


def output_frame_count(video_frames: int, speech_frames: int, policy: LengthPolicy | str = LengthPolicy.PINGPONG) -> int:
    """Frames of the dubbed video: the speech's, or (``cut``) the shorter of speech and video."""
    _check_counts(video_frames, speech_frames)
    if length_policy(policy) is LengthPolicy.CUT:
        return min(video_frames, speech_frames)
    return speech_frames


def video_frame_index(output_frame: int, video_frames: int, policy: LengthPolicy | str = LengthPolicy.PINGPONG) -> int:
    """The video frame output frame ``output_frame`` (>= 0) shows, for a video of ``video_frames``.

    Within the video's length every policy shows frame ``output_frame`` itself; past it ``loop``
    wraps around and ``pingpong`` reflects at both ends with period ``2 (N - 1)``.  ``cut`` never
    goes past the video (:func:`output_frame_count`); asking it to is an error.
    """
    policy = length_policy(policy)
    _check_counts(video_frames, 1)
    if output_frame < 0:
        raise ValueError(f"output frame index must be >= 0, got {output_frame}")
    if output_frame < video_frames:
        return output_frame
    if policy is LengthPolicy.CUT:
        raise ValueError(f"'cut' ends the output with the video's {video_frames} frames; frame {output_frame} is past it")
    if policy is LengthPolicy.LOOP or video_frames == 1:
        return output_frame % video_frames
    phase = output_frame % (2 * (video_frames - 1))
    return phase if phase < video_frames else 2 * (video_frames - 1) - phase


def frame_indices(video_frames: int, speech_frames: int, policy: LengthPolicy | str = LengthPolicy.PINGPONG) -> list[int]:
    """The video frame of every output frame (:func:`output_frame_count` of them)."""
    count = output_frame_count(video_frames, speech_frames, policy)
    return [video_frame_index(t, video_frames, policy) for t in range(count)]
