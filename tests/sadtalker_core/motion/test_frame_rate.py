"""Motion at another frame rate: round(duration x fps) frames, each the motion at its own time
(linear between 25 fps frames, angles the short way round), 25 fps unchanged."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from sadtalker_core.errors import InputError
from sadtalker_core.motion.frame_rate import check_fps, frame_count, retime
from sadtalker_core.motion.free_view import FreeView
from sadtalker_core.motion.sequences import Motion


def _motion(frames: int = 16, seed: int = 0) -> Motion:
    generator = torch.Generator().manual_seed(seed)
    pose = torch.cat([0.3 * torch.randn(frames, 3, generator=generator), torch.randn(frames, 3, generator=generator)], 1)
    return Motion(torch.randn(frames, 64, generator=generator), pose, 25, torch.rand(frames, generator=generator))


def test_the_official_rate_gives_todays_frames_unchanged():
    motion = _motion()
    assert retime(motion, 25) is motion
    assert retime(motion, 25, duration=0.64) is motion


@pytest.mark.parametrize(("fps", "frames"), [(24, 15), (30, 19), (60, 38)])
def test_a_clip_keeps_its_length_at_any_rate(fps, frames):
    motion = _motion(16)  # 0.64 s
    retimed = retime(motion, fps)
    assert retimed.num_frames == frames == round(0.64 * fps) and retimed.fps == fps
    assert abs(retimed.num_frames / fps - 0.64) <= 1 / fps  # within one frame of the audio
    assert retimed.expression.shape == (frames, 64) and retimed.pose.shape == (frames, 6)
    assert retimed.blink.shape == (frames,)


def test_frames_at_the_same_instant_are_the_motion_frames_themselves():
    motion = _motion(16)
    retimed = retime(motion, 50)  # every second frame is a 25 fps instant
    torch.testing.assert_close(retimed.expression[::2], motion.expression, rtol=0, atol=1e-6)
    torch.testing.assert_close(retimed.pose[::2], motion.pose, rtol=0, atol=1e-6)
    torch.testing.assert_close(retimed.blink[::2], motion.blink, rtol=0, atol=1e-6)


def test_frames_between_are_linear_in_time():
    motion = _motion(16)
    retimed = retime(motion, 30)
    # 30 fps frame 5 is at 1/6 s = 25 fps frame 4 1/6
    expected = motion.expression[4] * 5 / 6 + motion.expression[5] / 6
    torch.testing.assert_close(retimed.expression[5], expected, rtol=0, atol=1e-6)
    expected_translation = motion.pose[4, 3:] * 5 / 6 + motion.pose[5, 3:] / 6
    torch.testing.assert_close(retimed.pose[5, 3:], expected_translation, rtol=0, atol=1e-6)


def test_an_angle_crossing_pi_turns_the_short_way():
    pose = torch.zeros(2, 6)
    pose[:, 0] = torch.tensor([math.pi - 0.1, -math.pi + 0.1])  # 0.2 rad apart across +-pi
    motion = Motion(torch.zeros(2, 64), pose, 25)
    yaw = retime(motion, 50).pose[:, 0]
    assert yaw.shape == (4,)
    assert abs(abs(yaw[1].item()) - math.pi) < 1e-6  # the midpoint is at pi, not at 0
    assert yaw[0].item() == pytest.approx(math.pi - 0.1) and yaw[2].item() == pytest.approx(-math.pi + 0.1)


def test_a_blink_stays_at_its_time():
    blink = torch.zeros(25)
    blink[10] = 1.0  # a blink at 0.4 s
    expression = torch.zeros(25, 64)
    expression[10, 0] = 1.0
    motion = Motion(expression, torch.zeros(25, 6), 25, blink)
    retimed = retime(motion, 30)
    assert retimed.num_frames == 30
    assert int(retimed.blink.argmax()) == 12 and retimed.blink[12] == 1.0  # 12 / 30 s = 0.4 s
    assert int(retimed.expression[:, 0].argmax()) == 12


def test_free_view_keyframes_are_kept_and_spread_over_the_retimed_clip():
    motion = dataclasses.replace(_motion(16), free_view=FreeView(yaw=(-20.0, 20.0)))
    retimed = retime(motion, 30)
    assert retimed.free_view == motion.free_view
    yaw = retimed.free_view.per_frame(retimed.num_frames).yaw
    assert yaw.shape == (19,) and yaw[0].item() == -20.0 and yaw[-1].item() > 17.0  # the same sweep in 0.64 s


def test_the_duration_of_the_speech_decides_the_count():
    assert retime(_motion(16), 30, duration=0.64).num_frames == 19
    assert retime(_motion(16), 25, duration=0.7).num_frames == 18  # the last motion frame is held
    assert frame_count(0.01, 25) == 1


@pytest.mark.parametrize("fps", [0, -25, 29.97, 1000, float("nan"), "30", True])
def test_other_rates_are_refused_with_what_is_wanted(fps):
    with pytest.raises(InputError, match="fps must be a whole number of frames per second from 1 to 240"):
        check_fps(fps)
    with pytest.raises(InputError):
        retime(_motion(), fps)
