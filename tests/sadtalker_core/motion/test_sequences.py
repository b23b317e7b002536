"""Expression and pose sequences: made apart (ExpNet, PoseVAE, reference video, still head), joined
into the Motion the renderer takes, with the official repeat rule for sequences of another length."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sadtalker_core.motion import MotionOptions, load_motion_nets, make_expression, make_motion, make_pose
from sadtalker_core.motion.audio import audio_features
from sadtalker_core.motion.files import motion_from_coeffs
from sadtalker_core.motion.free_view import FreeView
from sadtalker_core.motion.sequences import (
    ExpressionSequence,
    Motion,
    PoseSequence,
    add_reference_pose,
    combine_motion,
    resample_sequence,
    scale_pose,
    split_motion,
    with_free_view,
    with_head_motion_scale,
    with_reference_motion,
)

BUNDLE = "SadTalker_V0.0.2_256.safetensors"


def _rows(count: int, width: int) -> torch.Tensor:
    """Row i holds i + column / 100, so a resampled row tells which frame it came from."""
    return torch.arange(count, dtype=torch.float32)[:, None] + torch.arange(width) / 100


# --- the sequences ------------------------------------------------------------------------------


def test_expression_sequence_checks_shapes_and_scales_the_expression_only():
    blink = torch.rand(5)
    seq = ExpressionSequence(_rows(5, 64), blink)
    assert seq.num_frames == 5 and seq.fps == 25
    assert seq.scaled(1.0) is seq
    louder = seq.scaled(1.5)
    torch.testing.assert_close(louder.expression, _rows(5, 64) * 1.5)
    assert louder.blink is blink
    with pytest.raises(ValueError, match=r"\(T, 64\)"):
        ExpressionSequence(torch.zeros(5, 70))
    with pytest.raises(ValueError, match=r"blink must be \(5,\)"):
        ExpressionSequence(torch.zeros(5, 64), torch.zeros(4))
    with pytest.raises(ValueError, match="fps"):
        ExpressionSequence(torch.zeros(5, 64), fps=0)


def test_pose_sequence_keeps_keyframes_as_float_tuples_and_refuses_bad_ones():
    pose = PoseSequence(torch.zeros(3, 6), free_view=FreeView(yaw=[0, 30, -30]))
    assert pose.free_view.yaw == (0.0, 30.0, -30.0) and pose.free_view.pitch is None and pose.free_view.is_set
    assert not PoseSequence(torch.zeros(3, 6)).free_view.is_set
    with pytest.raises(ValueError, match="roll keyframes: give at least one angle"):
        FreeView(roll=[])
    with pytest.raises(ValueError, match="pitch keyframes must be finite"):
        FreeView(pitch=[float("nan")])
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        PoseSequence(torch.zeros(3, 64))


def test_still_pose_is_the_source_pose_held_for_one_frame():
    source = _rows(1, 73)
    still = PoseSequence.still(source)
    assert still.num_frames == 1
    torch.testing.assert_close(still.pose, source[:, 64:70])


def test_free_view_sets_only_the_angles_given():
    pose = PoseSequence(torch.zeros(2, 6), free_view=FreeView(yaw=(10.0,)))
    turned = with_free_view(pose, pitch=[0, 20])
    assert turned.free_view == FreeView(yaw=(10.0,), pitch=(0.0, 20.0))
    torch.testing.assert_close(turned.pose, pose.pose)


def test_the_motion_carries_the_poses_free_view_to_the_renderer_and_back():
    view = FreeView(yaw=(0.0, 30.0), roll=(5.0,))
    motion = combine_motion(ExpressionSequence(_rows(4, 64)), PoseSequence(_rows(1, 6), free_view=view))
    assert motion.free_view == view and split_motion(motion)[1].free_view == view
    override = motion.free_view.per_frame(motion.num_frames)
    assert override.pitch is None and override.roll.tolist() == [5.0] * 4
    assert FreeView().per_frame(4) is None and Motion(_rows(2, 64), _rows(2, 6)).free_view == FreeView()


def test_head_motion_scale_is_relative_to_the_first_frame():
    pose = PoseSequence(_rows(4, 6))
    calm = with_head_motion_scale(pose, 0.5)
    torch.testing.assert_close(calm.pose, _rows(1, 6) + 0.5 * (_rows(4, 6) - _rows(1, 6)))


# --- reference head motion ----------------------------------------------------------------------


def test_a_held_pose_follows_the_whole_reference_video():
    """Still head + reference video: source pose + (ref[t] - ref[0]) for every reference frame."""
    still = PoseSequence(torch.full((1, 6), 5.0))
    ref = _rows(7, 6)
    moved = with_reference_motion(still, ref)
    assert moved.num_frames == 7
    torch.testing.assert_close(moved.pose, 5.0 + ref - ref[:1])


def test_reference_motion_on_a_generated_pose_keeps_its_length_and_repeats_the_video():
    """The official ``using_refpose``: frame t gets ref[t % N] - ref[0] added."""
    generated = PoseSequence(_rows(8, 6) * 10)
    ref = _rows(3, 6)
    moved = with_reference_motion(generated, ref)
    expected = _rows(8, 6) * 10 + (ref[torch.arange(8) % 3] - ref[:1])
    torch.testing.assert_close(moved.pose, expected)


# --- joining ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pose_frames", "picked"), [(6, [0, 1, 2, 3, 4, 5]), (1, [0] * 6),
                                                      (4, [0, 1, 2, 3, 0, 1]), (9, [0, 1, 2, 3, 4, 5])])
def test_the_expression_sets_the_clip_length_and_the_pose_repeats_or_is_cut(pose_frames, picked):
    blink = torch.rand(6)
    motion = combine_motion(ExpressionSequence(_rows(6, 64), blink), PoseSequence(_rows(pose_frames, 6)))
    assert motion.num_frames == 6 and motion.blink is blink
    torch.testing.assert_close(motion.pose, _rows(pose_frames, 6)[picked])
    torch.testing.assert_close(motion.expression, _rows(6, 64))


def test_joining_sequences_of_different_frame_rates_is_refused():
    with pytest.raises(ValueError, match="25 fps but the pose at 30 fps"):
        combine_motion(ExpressionSequence(torch.zeros(3, 64)), PoseSequence(torch.zeros(3, 6), fps=30))


def test_a_motion_splits_into_sequences_that_join_back_into_it():
    motion = Motion(_rows(4, 64), _rows(4, 6), fps=30, blink=torch.rand(4))
    expression, pose = split_motion(motion)
    assert expression.fps == pose.fps == 30 and expression.blink is motion.blink
    again = combine_motion(expression, pose)
    assert torch.equal(again.coeff_70(), motion.coeff_70()) and again.fps == 30


# --- ExpNet and PoseVAE apart, as make_motion runs them together --------------------------------


@pytest.fixture(scope="module")
def nets(weights_dir):
    return load_motion_nets(weights_dir / BUNDLE)


@pytest.fixture(scope="module")
def mels():
    samples = np.sin(np.linspace(0, 900, 16000 * 36 // 25)).astype(np.float32) * 0.3
    return audio_features(samples).mel_batch()  # 36 frames: one full PoseVAE chunk and a remainder


SOURCE = torch.randn(1, 73, generator=torch.Generator().manual_seed(3)) * 0.2


def test_make_motion_is_make_expression_plus_make_pose(nets, mels):
    options = MotionOptions(pose_style=7, seed=11, head_motion_scale=0.5)
    reference = motion_from_coeffs(_rows(5, 73) / 50)
    expected = make_motion(nets, mels, SOURCE, options, reference_pose=reference)

    expression = make_expression(nets.expnet, mels, SOURCE, options.blink, seed=11)
    pose = with_head_motion_scale(with_reference_motion(make_pose(nets.posevae, mels, SOURCE, 7, seed=11),
                                                        reference.pose), 0.5)
    joined = combine_motion(expression, pose)
    assert torch.equal(joined.coeff_70(), expected.coeff_70()) and torch.equal(joined.blink, expected.blink)
    assert expression.num_frames == pose.num_frames == 36
    assert expression.blink.max() == 1.0  # the random schedule put a blink in


def test_a_blink_reference_replaces_the_random_schedule(nets, mels):
    reference = motion_from_coeffs(_rows(4, 73) / 50)
    off = make_expression(nets.expnet, mels, SOURCE, "off")
    driven = make_expression(nets.expnet, mels, SOURCE, "random", seed=1, reference=reference)
    assert off.blink is None and driven.blink is None
    assert not torch.allclose(driven.expression, off.expression)


def test_pose_seed_makes_pose_reproducible(nets, mels):
    first = make_pose(nets.posevae, mels, SOURCE, 3, seed=5)
    assert torch.equal(first.pose, make_pose(nets.posevae, mels, SOURCE, 3, seed=5).pose)
    assert not torch.equal(first.pose, make_pose(nets.posevae, mels, SOURCE, 3, seed=6).pose)
    assert first.fps == 25


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


# --- reference pose and head-motion strength on pose tensors --------------------------------


def test_reference_pose_adds_zero_at_frame_0_and_the_reference_deltas_after():
    pose = torch.randn(8, 6, generator=torch.Generator().manual_seed(0))
    ref = torch.randn(3, 6, generator=torch.Generator().manual_seed(1))
    out = add_reference_pose(pose, ref)
    assert torch.equal(out[0], pose[0])
    for t in range(8):
        assert torch.equal(out[t], pose[t] + (ref[t % 3] - ref[0])), t


def test_reference_pose_takes_the_dtype_of_the_pose():
    out = add_reference_pose(torch.zeros(4, 6), torch.ones(2, 6, dtype=torch.float64))
    assert out.dtype == torch.float32 and out.shape == (4, 6)


@pytest.mark.parametrize("shape", [(4, 70), (6,), (0, 6)])
def test_reference_pose_rejects_wrong_shapes(shape):
    with pytest.raises(ValueError, match=r"ref_pose must be \(N, 6\)"):
        add_reference_pose(torch.zeros(4, 6), torch.zeros(shape))


def test_head_motion_scale_0_freezes_the_first_frame_pose():
    pose = torch.randn(7, 6)
    assert torch.equal(scale_pose(pose, 0.0), pose[:1].expand(7, 6))


def test_head_motion_scale_1_is_identity():
    pose = torch.randn(7, 6)
    assert scale_pose(pose, 1.0) is pose


@pytest.mark.parametrize("scale", [0.5, 2.0, -1.0])
def test_head_motion_scale_multiplies_the_movement_from_frame_0(scale):
    pose = torch.randn(7, 6)
    out = scale_pose(pose, scale)
    assert torch.equal(out[0], pose[0])
    torch.testing.assert_close(out - out[:1], scale * (pose - pose[:1]))


def test_head_motion_scale_must_be_finite():
    with pytest.raises(ValueError, match="finite"):
        scale_pose(torch.zeros(3, 6), float("nan"))
