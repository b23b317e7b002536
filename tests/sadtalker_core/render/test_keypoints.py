"""Head pose -> keypoints: bins to degrees, the pi = 3.14 quirk, rotation order, translation
quirk, free-view overrides; caller tensors are never modified."""
from __future__ import annotations

import math

import torch

from sadtalker_core.motion.free_view import PoseOverride
from sadtalker_core.networks.mapping import HeadPose
from sadtalker_core.render.keypoints import (
    bins_to_degrees,
    degrees_to_radians,
    head_angles,
    keypoint_transformation,
    rotation_matrix,
)


def _pose(batch: int = 2, seed: int = 0) -> HeadPose:
    g = torch.Generator().manual_seed(seed)
    return HeadPose(yaw=torch.randn(batch, 66, generator=g), pitch=torch.randn(batch, 66, generator=g),
                    roll=torch.randn(batch, 66, generator=g), t=torch.randn(batch, 3, generator=g) * 0.2,
                    exp=torch.randn(batch, 45, generator=g) * 0.1)


def _kp(seed: int = 1) -> torch.Tensor:
    return torch.rand(1, 15, 3, generator=torch.Generator().manual_seed(seed)) - 0.5


def test_a_confident_bin_k_means_3k_minus_99_degrees():
    logits = torch.full((3, 66), -1e4)
    logits[0, 0], logits[1, 33], logits[2, 65] = 0, 0, 0
    torch.testing.assert_close(bins_to_degrees(logits), torch.tensor([-99.0, 0.0, 96.0]))


def test_uniform_bins_give_the_mean_bin():
    torch.testing.assert_close(bins_to_degrees(torch.zeros(1, 66)), torch.tensor([32.5 * 3 - 99]))


def test_radians_use_pi_3_14():
    assert float(degrees_to_radians(torch.tensor(180.0))) == float(torch.tensor(3.14))


def test_rotation_is_pitch_about_x_then_yaw_about_y_then_roll_about_z():
    zero, angle = torch.zeros(1), torch.tensor([30.0])
    c, s = math.cos(30 / 180 * 3.14), math.sin(30 / 180 * 3.14)
    pitch_only = torch.tensor([[[1, 0, 0], [0, c, -s], [0, s, c]]])
    yaw_only = torch.tensor([[[c, 0, s], [0, 1, 0], [-s, 0, c]]])
    roll_only = torch.tensor([[[c, -s, 0], [s, c, 0], [0, 0, 1]]])
    torch.testing.assert_close(rotation_matrix(zero, angle, zero), pitch_only)
    torch.testing.assert_close(rotation_matrix(angle, zero, zero), yaw_only)
    torch.testing.assert_close(rotation_matrix(zero, zero, angle), roll_only)
    both = rotation_matrix(angle, angle, angle)
    torch.testing.assert_close(both, pitch_only @ yaw_only @ roll_only)
    torch.testing.assert_close(both @ both.transpose(1, 2), torch.eye(3).unsqueeze(0))


def test_only_the_vertical_translation_is_applied():
    pose = _pose(1)
    still = HeadPose(pose.yaw, pose.pitch, pose.roll, torch.zeros_like(pose.t), pose.exp)
    moved = keypoint_transformation(_kp(), pose) - keypoint_transformation(_kp(), still)
    expected = torch.tensor([0.0, float(pose.t[0, 1]), 0.0]).expand(1, 15, 3)
    torch.testing.assert_close(moved, expected)


def test_keypoints_are_rotated_canonical_plus_translation_plus_expression():
    pose, kp = _pose(2), _kp()
    rot = rotation_matrix(*head_angles(pose))
    t = pose.t * torch.tensor([0.0, 1.0, 0.0])
    expected = kp @ rot.transpose(1, 2) + t.unsqueeze(1) + pose.exp.view(2, 15, 3)
    out = keypoint_transformation(kp, pose)
    assert out.shape == (2, 15, 3)  # one canonical set serves the whole pose batch
    torch.testing.assert_close(out, expected)


def test_caller_tensors_are_not_modified():
    pose, kp = _pose(2), _kp()
    t_before, kp_before = pose.t.clone(), kp.clone()
    keypoint_transformation(kp, pose)
    assert torch.equal(pose.t, t_before) and torch.equal(kp, kp_before)


def test_yaw_override_changes_only_the_rotation():
    pose, kp = _pose(2), _kp()
    yaw, pitch, roll = head_angles(pose)
    same = keypoint_transformation(kp, pose, PoseOverride(yaw=yaw))
    torch.testing.assert_close(same, keypoint_transformation(kp, pose), rtol=0, atol=1e-6)

    new_yaw = torch.tensor([20.0, -35.0])
    turned = keypoint_transformation(kp, pose, PoseOverride(yaw=new_yaw))
    old_rot, new_rot = rotation_matrix(yaw, pitch, roll), rotation_matrix(new_yaw, pitch, roll)
    rest_of_old = keypoint_transformation(kp, pose) - kp @ old_rot.transpose(1, 2)
    rest_of_new = turned - kp @ new_rot.transpose(1, 2)
    torch.testing.assert_close(rest_of_new, rest_of_old)
    assert not torch.allclose(turned, keypoint_transformation(kp, pose))


def test_override_selects_per_frame_angles():
    override = PoseOverride(yaw=torch.tensor([0.0, 10.0, 20.0]), roll=torch.tensor([1.0, 2.0, 3.0]))
    picked = override.select(torch.tensor([2, 2, 0]))
    assert picked.pitch is None
    assert torch.equal(picked.yaw, torch.tensor([20.0, 20.0, 0.0]))
    assert torch.equal(picked.roll, torch.tensor([3.0, 3.0, 1.0]))


def test_override_angles_follow_the_pose_device_and_dtype():
    """Free-view keyframes are made on the CPU in float32; the pose may live elsewhere (a GPU)."""
    pose = _pose(2)
    pose = HeadPose(*(t.double() for t in (pose.yaw, pose.pitch, pose.roll, pose.t, pose.exp)))
    yaw, pitch, roll = head_angles(pose, PoseOverride(yaw=torch.tensor([20.0, -35.0])))
    assert yaw.dtype == pitch.dtype == roll.dtype == torch.float64
    assert torch.equal(yaw, torch.tensor([20.0, -35.0], dtype=torch.float64))
