"""Motion stage: speech -> the motion of one clip, :class:`Motion` (per-frame expression and head
pose, blinks, free-view keyframes), as the official ``get_data`` + ``Audio2Coeff.generate``.

Entries: :func:`load_audio_features` / :func:`audio_features` (speech -> the mel windows of each
25 fps video frame), :func:`make_expression` (ExpNet), :func:`make_pose` (PoseVAE) and
:func:`make_motion` (both, with :class:`MotionOptions`).  The halves travel as
:class:`ExpressionSequence` / :class:`PoseSequence` (the nodes' sockets) and are edited by the
``with_*`` functions and :meth:`ExpressionSequence.scaled`; :func:`combine_motion` joins them.
Motion files: :func:`save_motion` / :func:`load_motion`; another frame rate: :func:`retime`; a
dub's frame order: :func:`frame_indices`.
"""
from .audio import AudioFeatures, audio_features, load_audio_features
from .files import load_motion, motion_from_coeffs, save_motion
from .frame_rate import retime
from .free_view import FreeView
from .generate import BlinkMode, MotionNets, MotionOptions, load_motion_nets, make_expression, make_motion, make_pose
from .length import LengthPolicy, frame_indices
from .sequences import (
    ExpressionSequence,
    Motion,
    PoseSequence,
    combine_motion,
    split_motion,
    with_free_view,
    with_head_motion_scale,
    with_reference_motion,
)

__all__ = [
    "load_audio_features", "audio_features", "make_expression", "make_pose", "make_motion", "load_motion_nets",
    "combine_motion", "split_motion", "with_free_view", "with_head_motion_scale", "with_reference_motion",
    "save_motion", "load_motion", "motion_from_coeffs", "retime", "frame_indices",
    "AudioFeatures", "Motion", "ExpressionSequence", "PoseSequence", "FreeView", "MotionOptions", "BlinkMode",
    "MotionNets", "LengthPolicy",
]
