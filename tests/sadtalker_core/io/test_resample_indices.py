"""Frames already in memory are put on the 25 fps timeline with the same nearest-frame rule the
video reader uses."""
from __future__ import annotations

import numpy as np
import pytest

from sadtalker_core.errors import VideoError
from sadtalker_core.config import ReferenceFrames
from sadtalker_core.io.video_reader import iter_frames, reference_indices, resample_indices
from sadtalker_core.io.video_writer import VideoWriter


def test_the_same_rate_keeps_every_frame_once():
    assert resample_indices(7, 25) == list(range(7))


def test_a_faster_source_drops_and_a_slower_one_repeats_frames():
    assert resample_indices(6, 30, 25) == [0, 1, 2, 4, 5]
    assert resample_indices(3, 10, 25) == [0, 0, 1, 1, 2, 2, 2]


def test_no_frames_is_refused():
    with pytest.raises(VideoError, match="at least one frame"):
        resample_indices(0, 30)


def test_it_picks_what_the_video_reader_picks(tmp_path):
    """A 30 fps clip whose frame i is flat grey 20 * i, read at 25 fps, against the indices."""
    path = tmp_path / "thirty.mp4"
    levels = np.arange(12) * 20
    with VideoWriter(path, fps=30) as writer:
        for level in levels:
            writer.write(np.full((16, 16, 3), level, np.uint8))
    read = [int(round(frame.mean() / 20)) for frame in iter_frames(path, 25)]
    assert read == resample_indices(len(levels), 30, 25)


def test_reference_frames_one_to_one_takes_every_frame_whatever_the_rate():
    """The official reading of a reference video: frame k is motion frame k."""
    assert reference_indices(6, 30, ReferenceFrames.ONE_TO_ONE) == list(range(6))
    assert reference_indices(6, 30, "resample") == resample_indices(6, 30)


def test_an_unknown_reference_frames_mode_is_refused():
    with pytest.raises(ValueError, match="nearest"):
        reference_indices(6, 30, "nearest")
