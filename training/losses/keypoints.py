"""Keypoint helpers of the renderer trainers, next to ``sadtalker_core.render.keypoints``.

face-vid2vid trains with the full translation ``kp = R kp_c + t + δ``; SadTalker's inference
(``sadtalker_core.render.keypoints.keypoint_transformation``) keeps only t's y component.  The
face-vid2vid trainer uses the former (the renderer learns from every head motion); the
MappingNet trainer predicts through the latter, since that is what inference will apply to its
output, and matches the face-vid2vid keypoints of the frame.
"""
from __future__ import annotations

import math

import torch

from sadtalker_core.networks.mapping import HeadPose
from sadtalker_core.render.keypoints import head_angles, rotation_matrix


def posed_keypoints(kp_canonical: torch.Tensor, pose: HeadPose) -> torch.Tensor:
    """face-vid2vid's keypoint transformation with the full translation: (bs, K, 3)."""
    rot = rotation_matrix(*head_angles(pose))
    kp = kp_canonical.expand(rot.shape[0], *kp_canonical.shape[1:])
    return (torch.einsum("bmp,bkp->bkm", rot, kp) + pose.t.unsqueeze(1)
            + pose.exp.view(pose.exp.shape[0], -1, 3))


def split_pose(pose: HeadPose, first: int) -> tuple[HeadPose, HeadPose]:
    """A batched :class:`HeadPose` cut into its first ``first`` rows and the rest."""
    fields = ("yaw", "pitch", "roll", "t", "exp")
    return (HeadPose(**{f: getattr(pose, f)[:first] for f in fields}),
            HeadPose(**{f: getattr(pose, f)[first:] for f in fields}))


def renderer_degrees(angles: torch.Tensor) -> torch.Tensor:
    """3DMM angles (B, 3) = (pitch, yaw, roll) about x, y, z in radians, with y up -> the
    renderer's (yaw, pitch, roll) in degrees (image y down: pitch and roll change sign).  The
    head-pose supervision of the face-vid2vid trainer, in place of face-vid2vid's HopeNet."""
    degrees = angles * (180.0 / math.pi)
    return torch.stack([degrees[:, 1], -degrees[:, 0], -degrees[:, 2]], dim=1)
