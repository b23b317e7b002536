"""Free-view camera keyframes: the official walk over the keyframe path at a constant speed, and
the per-frame angle overrides the renderer takes."""
from __future__ import annotations

import pytest
import torch

from sadtalker_core.motion.free_view import FreeView, PoseOverride, camera_keyframes


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
    override = FreeView(None, [0, 20, -20], [15]).per_frame(10)
    assert isinstance(override, PoseOverride) and override.yaw is None
    assert torch.equal(override.pitch, camera_keyframes([0, 20, -20], 10))
    assert override.roll.tolist() == [15.0] * 10
    assert override.select(torch.tensor([0, 3])).pitch.tolist() == pytest.approx([0.0, 20.0])


def test_free_view_without_keyframes_is_none():
    assert FreeView().per_frame(10) is None and not FreeView().is_set


def test_given_angles_replace_their_own_only():
    view = FreeView(yaw=[10], roll=[1, 2]).with_angles(pitch=[0, 20], roll=[3])
    assert view == FreeView(yaw=(10.0,), pitch=(0.0, 20.0), roll=(3.0,))
