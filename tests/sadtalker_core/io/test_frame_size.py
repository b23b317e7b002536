"""Frames meant for a video get even sides by repeating their last row / column once; the padding
comes off again by slicing; the face frame size is the official aspect resize's."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sadtalker_core.io.frame_size import even_size, face_frame_size, pad_to_even, without_padding


def test_even_size_rounds_odd_sides_up():
    assert even_size(256, 255) == (256, 256)
    assert even_size(799, 1199) == (800, 1200)
    assert even_size(800, 1200) == (800, 1200)


@pytest.mark.parametrize("to_array", [np.asarray, torch.as_tensor], ids=["numpy", "torch"])
def test_odd_sides_are_padded_with_their_last_row_and_column(to_array):
    frames = np.arange(2 * 3 * 5 * 3, dtype=np.uint8).reshape(2, 3, 5, 3)  # 2 frames of 5 x 3
    padded = np.asarray(pad_to_even(to_array(frames)))
    assert padded.shape == (2, 4, 6, 3)
    np.testing.assert_array_equal(padded[:, :3, :5], frames)
    np.testing.assert_array_equal(padded[:, 3, :5], frames[:, 2])  # the last row, once more
    np.testing.assert_array_equal(padded[:, :3, 5], frames[:, :, 4])  # the last column, once more
    np.testing.assert_array_equal(padded[:, 3, 5], frames[:, 2, 4])


def test_even_frames_and_single_frames_keep_their_size():
    even = np.zeros((4, 6, 3), np.uint8)
    assert pad_to_even(even) is even
    assert pad_to_even(np.zeros((255, 256, 3), np.uint8)).shape == (256, 256, 3)


def test_face_frames_take_the_crop_aspect_as_the_official_resize():
    assert face_frame_size(256, (592, 590)) == (256, 255)  # int() truncates, as the official code
    assert face_frame_size(512, (300, 300)) == (512, 512)


def test_padding_comes_off_and_other_sizes_are_left_alone():
    frame = np.random.default_rng(0).integers(0, 256, (255, 256, 3), dtype=np.uint8)
    np.testing.assert_array_equal(without_padding(pad_to_even(frame), (256, 255)), frame)
    assert without_padding(frame, (256, 255)) is frame
    other = np.zeros((300, 256, 3), np.uint8)
    assert without_padding(other, (256, 255)) is other
