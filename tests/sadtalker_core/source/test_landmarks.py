"""The landmark result type and face picking."""
from __future__ import annotations

import numpy as np
import pytest

from sadtalker_core.source.landmarks import FaceLandmarks, NoFaceError, check_rgb_image, largest_first, pick_face


def _face(x1: float, y1: float, x2: float, y2: float) -> FaceLandmarks:
    return FaceLandmarks((x1, y1, x2, y2), 0.9, np.zeros((68, 2)))


def test_result_is_typed_and_read_only():
    face = FaceLandmarks((1, 2, 11, 22), np.float32(0.5), np.ones((68, 2), dtype=np.float64))
    assert face.box == (1.0, 2.0, 11.0, 22.0) and isinstance(face.score, float)
    assert face.landmarks.dtype == np.float32 and face.area == 200.0
    with pytest.raises(ValueError):
        face.landmarks[0, 0] = 5
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        FaceLandmarks((0, 0, 1, 1), 1.0, np.zeros((5, 2)))


def test_largest_first_and_default_pick():
    small, big, degenerate = _face(0, 0, 10, 10), _face(0, 0, 30, 20), _face(5, 5, 4, 40)
    assert degenerate.area == 0
    ordered = largest_first([small, degenerate, big])
    assert ordered == [big, small, degenerate]
    assert pick_face([small, big]) is big
    assert pick_face(ordered, 2) is degenerate


def test_pick_face_errors_name_the_image_and_the_count():
    with pytest.raises(NoFaceError, match=r"no face found in me\.jpg.*'resize' preprocess mode"):
        pick_face([], image_name="me.jpg")
    with pytest.raises(NoFaceError, match=r"face index 1 asked for, but 1 face found in me\.jpg"):
        pick_face([_face(0, 0, 1, 1)], 1, image_name="me.jpg")
    with pytest.raises(NoFaceError, match="face index -1"):
        pick_face([_face(0, 0, 1, 1)], -1)


def test_check_rgb_image_accepts_only_hwc_uint8():
    view = np.zeros((4, 6, 3), dtype=np.uint8)[:, ::2]
    assert check_rgb_image(view).flags.c_contiguous
    for bad in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), [[0]]):
        with pytest.raises(ValueError, match="RGB uint8"):
            check_rgb_image(bad)
