"""The random blink schedule reproduces the official ``generate_blink_seq_randomly``."""
from __future__ import annotations

import random

import numpy as np
import pytest

from conformance import load_golden
from sadtalker_core.motion.blink import BLINK_SHAPE, random_blink_ratio


def test_seed_0_reproduces_the_official_sequence_after_random_seed_0(goldens_dir):
    golden = load_golden(goldens_dir / "audio2exp.safetensors")["ratio_gt"][0, :, 0].numpy()
    ratio = random_blink_ratio(50, 0)
    assert ratio.dtype == np.float32 and ratio.shape == (50,)
    np.testing.assert_array_equal(ratio, golden)
    assert golden.any()  # the golden really has blinks in it


def test_a_random_instance_is_used_and_advanced():
    rng = random.Random(7)
    first, second = random_blink_ratio(200, rng), random_blink_ratio(200, rng)
    np.testing.assert_array_equal(first, random_blink_ratio(200, 7))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("num_frames", [0, 1, 20, 21])
def test_short_videos_get_no_blink(num_frames):
    """<= 20 frames: none (official); 21 frames: none (the official code raises there)."""
    ratio = random_blink_ratio(num_frames, 0)
    assert ratio.shape == (num_frames,) and not ratio.any()


@pytest.mark.parametrize("num_frames", [22, 50, 137, 400])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blinks_are_whole_five_frame_shapes_after_gaps_of_at_least_10_frames(num_frames, seed):
    ratio = random_blink_ratio(num_frames, seed)
    frame, blinks = 0, 0
    while np.any(ratio[frame:]):
        onset = frame + int(np.flatnonzero(ratio[frame:])[0])
        assert min(10, num_frames) <= onset - frame < min(num_frames // 2, 70)
        np.testing.assert_array_equal(ratio[onset:onset + 5], np.float32(BLINK_SHAPE))
        assert onset + 5 <= num_frames - 1  # a blink always ends before the last frame
        frame, blinks = onset + 5, blinks + 1
    assert np.count_nonzero(ratio) == 5 * blinks
    if num_frames >= 137:
        assert blinks >= 1
