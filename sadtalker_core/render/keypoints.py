"""Head pose -> 3D keypoints: the face-vid2vid keypoint transformation used by SadTalker's renderer.

``kp = R(yaw, pitch, roll) @ kp_canonical + t + exp`` where yaw/pitch/roll come from 66-bin
logits (3-degree bins from -99 to +96, expected value of the softmax) or from explicit degrees
(free-view overrides).  Reproduces the official ``make_animation.py`` quirks: pi is taken as 3.14,
and only the y component of ``t`` is used (the reference zeroes ``t[:, 0]`` and ``t[:, 2]`` in
place; here the caller's tensors are left untouched).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..motion.free_view import PoseOverride
from ..networks.mapping import HeadPose

#: number of head pose bins and their spacing / offset in degrees
NUM_BINS = 66
BIN_DEGREES = 3
BIN_OFFSET_DEGREES = 99
#: the reference's value of pi in degree -> radian conversion
REFERENCE_PI = 3.14


def bins_to_degrees(logits: torch.Tensor) -> torch.Tensor:
    """(bs, 66) bin logits -> (bs,) degrees: softmax . [0..65] * 3 - 99."""
    idx = torch.arange(NUM_BINS, device=logits.device).to(logits.dtype)
    return torch.sum(F.softmax(logits, dim=1) * idx, 1) * BIN_DEGREES - BIN_OFFSET_DEGREES


def degrees_to_radians(degrees: torch.Tensor) -> torch.Tensor:
    """Degrees -> radians with the reference's pi = 3.14."""
    return degrees / 180 * REFERENCE_PI


def rotation_matrix(yaw: torch.Tensor, pitch: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """(bs,) angles in degrees -> (bs, 3, 3) rotation ``P @ Y @ R``: pitch about x, yaw about y,
    roll about z."""
    yaw, pitch, roll = (degrees_to_radians(a).unsqueeze(1) for a in (yaw, pitch, roll))
    one, zero = torch.ones_like(pitch), torch.zeros_like(pitch)
    pitch_mat = torch.cat([one, zero, zero,
                           zero, torch.cos(pitch), -torch.sin(pitch),
                           zero, torch.sin(pitch), torch.cos(pitch)], dim=1).view(-1, 3, 3)
    yaw_mat = torch.cat([torch.cos(yaw), zero, torch.sin(yaw),
                         zero, one, zero,
                         -torch.sin(yaw), zero, torch.cos(yaw)], dim=1).view(-1, 3, 3)
    roll_mat = torch.cat([torch.cos(roll), -torch.sin(roll), zero,
                          torch.sin(roll), torch.cos(roll), zero,
                          zero, zero, one], dim=1).view(-1, 3, 3)
    return torch.einsum("bij,bjk,bkm->bim", pitch_mat, yaw_mat, roll_mat)


def head_angles(pose: HeadPose, override: PoseOverride | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(yaw, pitch, roll) in degrees: from the bins, unless ``override`` gives an angle (moved to
    the pose's device and dtype: free-view keyframes are made on the CPU)."""
    override = override or PoseOverride()

    def angle(given: torch.Tensor | None, logits: torch.Tensor) -> torch.Tensor:
        return bins_to_degrees(logits) if given is None else given.to(logits)

    return angle(override.yaw, pose.yaw), angle(override.pitch, pose.pitch), angle(override.roll, pose.roll)


def keypoint_transformation(kp_canonical: torch.Tensor, pose: HeadPose,
                            override: PoseOverride | None = None) -> torch.Tensor:
    """Canonical keypoints (1 or bs, num_kp, 3) posed by ``pose`` -> (bs, num_kp, 3).

    A single canonical set is shared by every pose in the batch.  Only ``t[:, 1]`` is applied
    (the reference zeroes the x and z translation).
    """
    rot = rotation_matrix(*head_angles(pose, override))
    kp = kp_canonical.expand(rot.shape[0], *kp_canonical.shape[1:])
    kp_rotated = torch.einsum("bmp,bkp->bkm", rot, kp)
    t = pose.t
    t = torch.stack([t[:, 0] * 0, t[:, 1], t[:, 2] * 0], dim=1)
    return kp_rotated + t.unsqueeze(1) + pose.exp.view(pose.exp.shape[0], -1, 3)
