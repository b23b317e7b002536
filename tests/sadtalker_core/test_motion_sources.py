"""Motion sources: reference pose / blink videos, still head, head-motion strength and free view,
specified by the official ``using_refpose``, ``get_data`` and ``gen_camera_pose`` behaviour."""
from __future__ import annotations

import pytest
import torch

from sadtalker_core.keypoints import PoseOverride
from sadtalker_core.motion import Motion
from sadtalker_core.motion_sources import (
    camera_keyframes,
    free_view,
    reference_coeff,
    reference_expression,
    reference_pose_motion,
    resample_sequence,
    scale_head_motion,
    still_pose,
)


def _motion(frames: int = 8, seed: int = 0, blink: bool = True) -> Motion:
    gen = torch.Generator().manual_seed(seed)
    return Motion(
        expression=torch.randn(frames, 64, generator=gen),
        pose=torch.randn(frames, 6, generator=gen),
        fps=30,
        blink=torch.rand(frames, generator=gen) if blink else None,
    )


def _rows(count: int, width: int) -> torch.Tensor:
    """Row i holds i + column / 100, so a resampled row tells which frame it came from."""
    return torch.arange(count, dtype=torch.float32)[:, None] + torch.arange(width) / 100


# --- repeat / trim ----------------------------------------------------------------------------


def test_short_reference_repeats_from_its_start():
    out = resample_sequence(_rows(3, 6), 8)
    assert out[:, 0].tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    assert torch.equal(out[3], _rows(3, 6)[0])


def test_long_reference_is_cut_to_the_clip():
    assert torch.equal(resample_sequence(_rows(10, 4), 4), _rows(10, 4)[:4])


def test_reference_of_exact_length_and_multiple_lengths():
    seq = _rows(4, 2)
    assert torch.equal(resample_sequence(seq, 4), seq)
    assert torch.equal(resample_sequence(seq, 12), torch.cat([seq, seq, seq]))


@pytest.mark.parametrize("shape, frames", [((0, 6), 4), ((6,), 4), ((3, 6), 0)])
def test_resample_rejects_empty_or_flat_sequences(shape, frames):
    with pytest.raises(ValueError, match="N >= 1|num_frames"):
        resample_sequence(torch.zeros(shape), frames)


# --- reference pose ---------------------------------------------------------------------------


def test_reference_pose_adds_zero_at_frame_0_and_the_reference_deltas_after():
    motion = _motion(8)
    ref = torch.randn(3, 6, generator=torch.Generator().manual_seed(1))
    out = reference_pose_motion(motion, ref)
    assert torch.equal(out.pose[0], motion.pose[0])
    for t in range(8):
        expected = motion.pose[t] + (ref[t % 3] - ref[0])
        assert torch.equal(out.pose[t], expected), t


def test_reference_pose_keeps_expression_blink_and_fps():
    motion = _motion(5)
    out = reference_pose_motion(motion, torch.randn(9, 6))
    assert out.expression is motion.expression and out.blink is motion.blink and out.fps == 30
    assert out.pose.shape == (5, 6) and out.pose.dtype == motion.pose.dtype


def test_reference_pose_takes_the_input_dtype_of_the_motion():
    out = reference_pose_motion(_motion(4), torch.ones(2, 6, dtype=torch.float64))
    assert out.pose.dtype == torch.float32


@pytest.mark.parametrize("shape", [(4, 70), (6,), (0, 6)])
def test_reference_pose_rejects_wrong_shapes(shape):
    with pytest.raises(ValueError, match=r"ref_pose must be \(N, 6\)"):
        reference_pose_motion(_motion(4), torch.zeros(shape))


# --- reference expression (blink video) -------------------------------------------------------


def test_reference_expression_repeats_the_videos_expressions():
    ref = _rows(3, 64)
    out = reference_expression(ref, 8)
    assert out.shape == (8, 64)
    assert out[:, 0].tolist() == [0, 1, 2, 0, 1, 2, 0, 1]


def test_reference_expression_rejects_coefficient_rows():
    with pytest.raises(ValueError, match=r"ref_expression must be \(N, 64\)"):
        reference_expression(torch.zeros(3, 70), 8)


@pytest.mark.parametrize("shape", [(70,), (73,), (1, 70), (1, 73)])
def test_reference_coeff_is_source_pose_with_per_frame_reference_expressions(shape):
    source = torch.arange(73, dtype=torch.float32)[: shape[-1]].reshape(shape) + 1000
    ref = _rows(3, 64)
    out = reference_coeff(source, ref, 5)
    assert out.shape == (5, 70)
    assert torch.equal(out[:, :64], ref[[0, 1, 2, 0, 1]])
    assert torch.equal(out[:, 64:], source.reshape(-1)[64:70].expand(5, 6))


@pytest.mark.parametrize("shape", [(64,), (2, 73), (1, 1, 73)])
def test_reference_coeff_rejects_other_than_one_face(shape):
    with pytest.raises(ValueError, match="source_coeff must be one face's coefficients"):
        reference_coeff(torch.zeros(shape), torch.zeros(3, 64), 5)


# --- still head and head-motion strength ------------------------------------------------------


@pytest.mark.parametrize("shape", [(6,), (1, 6)])
def test_still_pose_holds_the_source_pose(shape):
    motion = _motion(6)
    source = torch.arange(6, dtype=torch.float32).reshape(shape)
    out = still_pose(motion, source)
    assert torch.equal(out.pose, source.reshape(1, 6).expand(6, 6))
    assert torch.equal(out.expression, motion.expression) and out.blink is motion.blink


def test_still_pose_rejects_a_whole_coefficient_vector():
    with pytest.raises(ValueError, match="64:70"):
        still_pose(_motion(4), torch.zeros(1, 73))


def test_head_motion_scale_0_freezes_the_first_frame_pose():
    motion = _motion(7)
    out = scale_head_motion(motion, 0.0)
    assert torch.equal(out.pose, motion.pose[:1].expand(7, 6))
    assert torch.equal(out.expression, motion.expression)


def test_head_motion_scale_1_is_identity():
    motion = _motion(7)
    assert scale_head_motion(motion, 1.0) is motion


@pytest.mark.parametrize("scale", [0.5, 2.0, -1.0])
def test_head_motion_scale_multiplies_the_movement_from_frame_0(scale):
    motion = _motion(7)
    out = scale_head_motion(motion, scale)
    assert torch.equal(out.pose[0], motion.pose[0])
    torch.testing.assert_close(out.pose - out.pose[:1], scale * (motion.pose - motion.pose[:1]))


def test_head_motion_scale_must_be_finite():
    with pytest.raises(ValueError, match="finite"):
        scale_head_motion(_motion(3), float("nan"))


# --- free view --------------------------------------------------------------------------------


def test_free_view_keyframes_0_20_minus20_over_10_frames():
    # path length 60 over 9 steps: 20/3 degrees per frame; 0 -> 20 gives 0, 20/3, 40/3 (20 is
    # excluded), 20 -> -20 gives 20 .. -40/3 (six values); 9 values, padded with the last
    third = 20 / 3
    expected = [0, third, 2 * third, 20, 2 * third, third, 0, -third, -2 * third, -2 * third]
    out = camera_keyframes([0, 20, -20], 10)
    assert out.dtype == torch.float32 and out.shape == (10,)
    torch.testing.assert_close(out, torch.tensor(expected, dtype=torch.float32), atol=1e-5, rtol=0)


def test_free_view_list_longer_than_the_clip_is_cut():
    # path 30 over 4 steps: 7.5 per frame; segments give [0, 7.5], [10, 2.5], [0, 7.5] -> first 5
    out = camera_keyframes([0, 10, 0, 10], 5)
    assert out.tolist() == [0.0, 7.5, 10.0, 2.5, 0.0]


def test_free_view_single_value_holds_the_angle():
    assert camera_keyframes([15], 6).tolist() == [15.0] * 6


def test_free_view_one_frame_clip_gets_the_first_keyframe():
    assert camera_keyframes([-10, 30], 1).tolist() == [-10.0]


def test_free_view_equal_neighbours_add_no_frames():
    # the official code divides by zero here; the equal pair is an empty segment
    assert torch.equal(camera_keyframes([0, 0, 10], 3), camera_keyframes([0, 10], 3))
    assert camera_keyframes([5, 5, 5], 4).tolist() == [5.0] * 4


def test_free_view_int_and_float_keyframes_agree():
    assert torch.equal(camera_keyframes([0, 20, -20], 25), camera_keyframes([0.0, 20.0, -20.0], 25))


@pytest.mark.parametrize("keys, frames, match", [([], 5, "at least one"), ([0, float("inf")], 5, "finite"),
                                                 ([0, 10], 0, "frame_num")])
def test_free_view_rejects_bad_keyframes(keys, frames, match):
    with pytest.raises(ValueError, match=match):
        camera_keyframes(keys, frames)


def test_free_view_overrides_only_the_given_angles():
    override = free_view(None, [0, 20, -20], [15], 10)
    assert isinstance(override, PoseOverride) and override.yaw is None
    assert torch.equal(override.pitch, camera_keyframes([0, 20, -20], 10))
    assert override.roll.tolist() == [15.0] * 10
    assert override.select(torch.tensor([0, 3])).pitch.tolist() == pytest.approx([0.0, 20.0])


def test_free_view_without_keyframes_is_none():
    assert free_view(None, None, None, 10) is None
