"""Which video frame each output frame of a dub shows: the speech's length, the video played
forward and backward (ping-pong, the turning frames once), looped, or cut."""
from __future__ import annotations

import pytest

from sadtalker_core.errors import InputError
from sadtalker_core.motion.length import LengthPolicy, frame_indices, output_frame_count, video_frame_index


@pytest.mark.parametrize("policy", list(LengthPolicy))
def test_speech_shorter_than_the_video_ends_the_output_with_the_speech(policy):
    assert output_frame_count(200, 16, policy) == 16
    assert frame_indices(200, 16, policy) == list(range(16))


@pytest.mark.parametrize("policy", list(LengthPolicy))
def test_speech_as_long_as_the_video_shows_every_frame_once(policy):
    assert frame_indices(5, 5, policy) == [0, 1, 2, 3, 4]


def test_longer_speech_plays_the_video_forward_then_backward_without_repeating_the_turning_frame():
    assert frame_indices(4, 12) == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1]
    steps = [b - a for a, b in zip(frame_indices(7, 60), frame_indices(7, 60)[1:])]
    assert set(steps) == {-1, 1}  # never a jump, never a held frame


def test_longer_speech_loops_the_video_from_its_start():
    assert frame_indices(3, 8, "loop") == [0, 1, 2, 0, 1, 2, 0, 1]


def test_cut_ends_the_output_with_the_video():
    assert output_frame_count(3, 8, "cut") == 3
    assert frame_indices(3, 8, "cut") == [0, 1, 2]
    with pytest.raises(ValueError, match="'cut' ends the output with the video's 3 frames"):
        video_frame_index(3, 3, "cut")


@pytest.mark.parametrize("policy", ["pingpong", "loop"])
def test_a_one_frame_video_is_held(policy):
    assert frame_indices(1, 4, policy) == [0, 0, 0, 0]


def test_one_output_frame_at_a_time_equals_the_whole_mapping():
    whole = frame_indices(5, 30)
    assert [video_frame_index(t, 5) for t in range(30)] == whole
    assert video_frame_index(8, 5) == 0 and video_frame_index(9, 5) == 1  # period 2 (N - 1) = 8


def test_empty_video_or_speech_and_unknown_policies_are_errors():
    with pytest.raises(InputError, match="the video has no frames"):
        frame_indices(0, 5)
    with pytest.raises(InputError, match="the speech has no frames"):
        frame_indices(5, 0)
    with pytest.raises(InputError, match="unknown length policy 'bounce': use one of pingpong, loop, cut"):
        frame_indices(5, 9, "bounce")
