"""The landmark result types, the two-step detector interface and face picking."""
from __future__ import annotations

import numpy as np
import pytest

from sadtalker_core.source.landmarks import (
    FaceBox,
    FaceLandmarks,
    FaceOrder,
    LandmarkDetector,
    NoFaceError,
    check_rgb_image,
    ordered_faces,
    pick_face,
)


def _face(x1: float, y1: float, x2: float, y2: float, score: float = 0.9) -> FaceLandmarks:
    return FaceLandmarks((x1, y1, x2, y2), score, np.zeros((68, 2)))


def test_result_is_typed_and_read_only():
    face = FaceLandmarks((1, 2, 11, 22), np.float32(0.5), np.ones((68, 2), dtype=np.float64))
    assert face.box == (1.0, 2.0, 11.0, 22.0) and isinstance(face.score, float)
    assert face.landmarks.dtype == np.float32 and face.area == 200.0
    with pytest.raises(ValueError):
        face.landmarks[0, 0] = 5
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        FaceLandmarks((0, 0, 1, 1), 1.0, np.zeros((5, 2)))


def test_the_most_confident_face_comes_first_by_default_as_officially():
    small, big = _face(0, 0, 10, 10, score=0.99), _face(0, 0, 30, 20, score=0.98)
    assert pick_face([big, small]) is small
    assert ordered_faces([big, small]) == [small, big]
    assert pick_face([big, small], 1) is big


def test_largest_order_counts_by_box_area():
    small, big, degenerate = _face(0, 0, 10, 10, 0.99), _face(0, 0, 30, 20, 0.9), _face(5, 5, 4, 40, 0.995)
    assert degenerate.area == 0
    ordered = ordered_faces([small, degenerate, big], FaceOrder.LARGEST)
    assert ordered == [big, small, degenerate]
    assert pick_face([small, big], order="largest") is big
    assert pick_face([small, degenerate, big], 2, order=FaceOrder.LARGEST) is degenerate


def test_ties_keep_the_detectors_order():
    first, second = _face(0, 0, 10, 10, 0.9), _face(20, 0, 30, 10, 0.9)
    assert ordered_faces([first, second]) == [first, second]
    assert ordered_faces([first, second], "largest") == [first, second]


def test_boxes_are_typed_and_picked_like_faces():
    small, big = FaceBox((0, 0, 10, 10), np.float32(0.9)), FaceBox((0, 0, 30, 20), 0.8)
    assert big.box == (0.0, 0.0, 30.0, 20.0) and isinstance(small.score, float) and big.area == 600.0
    assert pick_face([big, small]) is small and pick_face([small, big], order="largest") is big


class _CornerLandmarks(LandmarkDetector):
    """Two fixed boxes; every landmark at the box's top-left corner; counts landmark runs."""

    def __init__(self):
        self.runs = 0

    def find_faces(self, image_rgb):
        return [FaceBox((10, 10, 50, 60), 0.9), FaceBox((60, 0, 70, 10), 0.95)]

    def landmarks(self, image_rgb, face):
        self.runs += 1
        return np.tile(np.float32(face.box[:2]), (68, 1))


def test_detect_gives_every_box_with_its_landmarks_and_the_crop_detection_defaults_to_find_faces():
    detector = _CornerLandmarks()
    faces = detector.detect(np.zeros((80, 80, 3), np.uint8))
    assert [f.box for f in faces] == [(10, 10, 50, 60), (60, 0, 70, 10)] and detector.runs == 2
    assert (faces[1].landmarks == (60, 0)).all() and faces[1].score == pytest.approx(0.95)
    assert [f.box for f in detector.find_faces_in_crop(np.zeros((8, 8, 3), np.uint8))] == [f.box for f in faces]


def test_pick_face_errors_name_the_image_and_the_count():
    with pytest.raises(NoFaceError, match=r"no face found in me\.jpg.*'resize' preprocess mode"):
        pick_face([], image_name="me.jpg")
    with pytest.raises(NoFaceError, match=r"face index 1 asked for, but 1 face found in me\.jpg .*most confident face first"):
        pick_face([_face(0, 0, 1, 1)], 1, image_name="me.jpg")
    with pytest.raises(NoFaceError, match="face index -1"):
        pick_face([_face(0, 0, 1, 1)], -1)


def test_check_rgb_image_accepts_only_hwc_uint8():
    view = np.zeros((4, 6, 3), dtype=np.uint8)[:, ::2]
    assert check_rgb_image(view).flags.c_contiguous
    for bad in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), [[0]]):
        with pytest.raises(ValueError, match="RGB uint8"):
            check_rgb_image(bad)
