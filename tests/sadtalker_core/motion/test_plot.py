"""The motion chart: what is drawn (head angles in degrees, the mouth-opening proxy, blinks, over time
in seconds) and that the picture shows it: axes, curves where their values say, different motions
drawn differently."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sadtalker_core.errors import InputError
from sadtalker_core.motion.blink import random_blink_ratio
from sadtalker_core.motion.free_view import FreeView, camera_keyframes
from sadtalker_core.motion.plot import (
    ANGLES,
    BLINK_COLOUR,
    MOUTH_COLOUR,
    draw_motion,
    motion_curves,
    mouth_opening,
    nice_limit,
    nice_step,
    pose_degrees,
)
from sadtalker_core.motion.sequences import ExpressionSequence, PoseSequence

COLOURS = {name: colour for name, _, colour in ANGLES}


def poses(frames: int, yaw=0.0, pitch=0.0, roll=0.0) -> torch.Tensor:
    """(frames, 6) 3DMM poses with the given angles in degrees (numbers or per-frame tensors)."""
    pose = torch.zeros(frames, 6)
    for column, value in ((1, yaw), (0, pitch), (2, roll)):
        pose[:, column] = torch.as_tensor(value, dtype=torch.float32) * math.pi / 180
    return pose


def pixels_of(image: np.ndarray, colour, tolerance: int = 40) -> np.ndarray:
    """(row, column) of the pixels within ``tolerance`` of ``colour`` on every channel."""
    near = (np.abs(image.astype(int) - np.array(colour)) <= tolerance).all(axis=-1)
    return np.argwhere(near)


def long_dark_rows_mask(image: np.ndarray) -> np.ndarray:
    """The rows crossed by a dark horizontal line over most of the width (axes, frames)."""
    return (image.max(axis=-1) < 160).mean(axis=1) > 0.8


def long_dark_rows(image: np.ndarray) -> int:
    return int(long_dark_rows_mask(image).sum())


# --- what is drawn ------------------------------------------------------------------------------


def test_pose_angles_are_yaw_pitch_roll_in_degrees_from_the_3dmm_radians():
    pose = torch.zeros(2, 6)
    pose[:, :3] = torch.tensor([[0.1, 0.2, 0.3], [-0.1, 0.0, math.pi / 2]])  # rotation about x, y, z
    np.testing.assert_allclose(pose_degrees(pose), np.degrees([[0.2, 0.1, 0.3], [0.0, -0.1, math.pi / 2]]),
                               rtol=1e-6)


def test_mouth_opening_is_the_distance_of_the_expression_from_the_face_at_rest():
    expression = torch.zeros(3, 64)
    expression[1, 0], expression[2, :2] = 3.0, torch.tensor([3.0, 4.0])
    np.testing.assert_allclose(mouth_opening(expression), [0.0, 3.0, 5.0], atol=1e-6)
    rest = torch.zeros(64)
    rest[1] = 4.0
    np.testing.assert_allclose(mouth_opening(expression, rest), [4.0, 5.0, 3.0], atol=1e-6)
    with pytest.raises(InputError, match="rest expression must hold 64 coefficients"):
        mouth_opening(expression, torch.zeros(70))


def test_curves_follow_the_expression_length_as_the_renderer_does():
    blink = torch.from_numpy(random_blink_ratio(30, seed=1))
    expression = ExpressionSequence(torch.randn(30, 64), blink)
    pose = PoseSequence(poses(4, yaw=torch.tensor([0.0, 10.0, 20.0, 30.0])), free_view=FreeView(yaw=(0.0, 30.0), roll=(5.0,)))
    curves = motion_curves(expression, pose)
    assert (curves.num_frames, curves.fps, curves.seconds) == (30, 25, 1.2)
    np.testing.assert_allclose(curves.angles[:8, 0], [0, 10, 20, 30, 0, 10, 20, 30], atol=1e-4)  # repeated
    assert set(curves.free_view) == {"yaw", "roll"}
    np.testing.assert_allclose(curves.free_view["yaw"], camera_keyframes((0.0, 30.0), 30).numpy(), atol=1e-6)
    np.testing.assert_array_equal(curves.blink, blink.numpy())
    assert curves.mouth.shape == (30,) and curves.mouth[0] == 0


def test_a_pose_alone_or_an_expression_alone_is_drawn_with_what_it_has():
    held = motion_curves(pose=PoseSequence(poses(1, yaw=12.0)))
    assert held.num_frames == 1 and held.mouth is None and held.blink is None
    assert draw_motion(held).shape == (540, 960, 3)
    talking = motion_curves(expression=ExpressionSequence(torch.randn(8, 64)))
    assert talking.angles is None and talking.blink is None and talking.mouth.shape == (8,)
    assert draw_motion(talking).shape == (540, 960, 3)
    with pytest.raises(InputError, match="nothing to draw"):
        motion_curves()
    with pytest.raises(InputError, match="at 25 fps but the pose at 30 fps"):
        motion_curves(ExpressionSequence(torch.randn(8, 64)), PoseSequence(poses(8), fps=30))


def test_nice_axis_steps_and_limits():
    assert [nice_step(span, 4) for span in (4.0, 20.0, 60.0, 0.7)] == [1.0, 5.0, 20.0, 0.2]
    assert nice_limit(3.0, 10.0, 2) == (10.0, 5.0)  # small motion keeps the ±10 degree scale
    assert nice_limit(31.0, 10.0, 2) == (40.0, 20.0)
    assert nice_limit(1.53, 0.5, 3) == (2.0, 1.0)


# --- the picture --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def talking() -> tuple[ExpressionSequence, PoseSequence]:
    """3 s of a nodding, turning head with a moving mouth and the official random blinks."""
    frames = 75
    t = torch.arange(frames) / 25
    expression = torch.zeros(frames, 64)
    expression[:, 0] = torch.relu(torch.sin(t * 9))
    expression = ExpressionSequence(expression, torch.from_numpy(random_blink_ratio(frames, seed=4)))
    return expression, PoseSequence(poses(frames, yaw=15 * torch.sin(t * 2), pitch=5 * torch.sin(t * 3)))


def test_the_chart_is_an_rgb_picture_of_the_size_asked_for(talking):
    image = draw_motion(motion_curves(*talking), 800, 450, title="PoseVAE style 3")
    assert image.shape == (450, 800, 3) and image.dtype == np.uint8
    with pytest.raises(InputError, match="at least 640 x 360 pixels"):
        draw_motion(motion_curves(*talking), 320, 200)


def test_three_framed_panels_with_value_labels_on_the_left_and_time_labels_below(talking):
    image = draw_motion(motion_curves(*talking))
    assert long_dark_rows(image) >= 6  # the top and bottom edge of each panel
    dark = image.max(axis=-1) < 120
    labelled_rows = np.flatnonzero(dark[:, :50].any(axis=1))  # tick values left of the panels
    assert len(labelled_rows) > 60 and labelled_rows.max() - labelled_rows.min() > 300
    frame_bottom = np.flatnonzero(long_dark_rows_mask(image)).max()
    assert dark[frame_bottom + 3:frame_bottom + 40, 58:-14].sum() > 100  # time ticks and "time (s)"


def test_each_curve_is_drawn_in_its_colour_and_blinks_are_filled(talking):
    image = draw_motion(motion_curves(*talking))
    for name, colour in COLOURS.items():
        assert len(pixels_of(image, colour, 30)) > 300, name
    assert len(pixels_of(image, MOUTH_COLOUR, 30)) > 300
    without_blinks = draw_motion(motion_curves(ExpressionSequence(talking[0].expression), talking[1]))
    filled = len(pixels_of(image, (200, 200, 200), 6)) - len(pixels_of(without_blinks, (200, 200, 200), 6))
    assert filled > 1000  # the area under the blink curve (text edges have that grey too)
    assert len(pixels_of(without_blinks, BLINK_COLOUR, 10)) < len(pixels_of(image, BLINK_COLOUR, 10))


def test_a_curve_is_where_its_values_say(talking):
    """A yaw held at +20 degrees is drawn above one held at -20; a rising yaw climbs from left to right."""
    expression = talking[0]
    up = pixels_of(draw_motion(motion_curves(expression, PoseSequence(poses(75, yaw=20.0)))), COLOURS["yaw"], 30)
    down = pixels_of(draw_motion(motion_curves(expression, PoseSequence(poses(75, yaw=-20.0)))), COLOURS["yaw"], 30)
    legend_rows = 50  # the legend's colour samples sit above the first panel
    up, down = up[up[:, 0] > legend_rows], down[down[:, 0] > legend_rows]
    assert up[:, 0].mean() + 50 < down[:, 0].mean()

    rising = PoseSequence(poses(75, yaw=torch.linspace(-20, 20, 75)))
    curve = pixels_of(draw_motion(motion_curves(expression, rising)), COLOURS["yaw"], 30)
    curve = curve[curve[:, 0] > legend_rows]
    assert np.corrcoef(curve[:, 1], curve[:, 0])[0, 1] < -0.95  # further right, higher up (smaller row)


def test_different_pose_sources_draw_differently_and_the_same_motion_the_same(talking):
    expression, moving = talking
    still = PoseSequence(moving.pose[:1])
    turned = PoseSequence(moving.pose[:1], free_view=FreeView(yaw=(-20.0, 30.0, 10.0)))
    charts = [draw_motion(motion_curves(expression, pose)) for pose in (moving, still, turned)]
    for a in range(3):
        for b in range(a + 1, 3):
            changed = (np.abs(charts[a].astype(int) - charts[b]).max(axis=-1) > 40).sum()
            assert changed > 1000, (a, b, changed)  # pixels that changed visibly
    assert np.array_equal(charts[0], draw_motion(motion_curves(expression, moving)))
    assert len(pixels_of(charts[2], COLOURS["yaw"], 30)) > len(pixels_of(charts[1], COLOURS["yaw"], 30))  # dashed
