"""dlib backend on real pictures: one face with plausible landmarks, none on a blank, two when pasted."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from sadtalker_core.source.dlib_detector import DlibDetector, predictor_path
from sadtalker_core.source.landmarks import FaceBox, FaceLandmarks, NoFaceError, ordered_faces, pick_face


@pytest.fixture(scope="module")
def detector() -> DlibDetector:
    return DlibDetector()


def _read_rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _assert_plausible(face: FaceLandmarks) -> None:
    """Landmarks inside the box (with a small margin: dlib's box may cut the chin) and in iBUG layout."""
    x1, y1, x2, y2 = face.box
    margin = 0.15 * (x2 - x1)
    points = face.landmarks
    assert points.shape == (68, 2) and points.dtype == np.float32
    assert (points[:, 0] >= x1 - margin).all() and (points[:, 0] <= x2 + margin).all()
    assert (points[:, 1] >= y1 - margin).all() and (points[:, 1] <= y2 + margin).all()
    left_eye, right_eye = points[36:42].mean(0), points[42:48].mean(0)
    nose_tip, mouth, chin = points[30], points[48:68].mean(0), points[8]
    assert left_eye[0] < nose_tip[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose_tip[1] < mouth[1] < chin[1]
    assert points[16, 0] - points[0, 0] > 0.5 * (x2 - x1)  # the jaw spans the face


@pytest.mark.parametrize("name", ["people_0.png", "art_0.png", "full_body_1.png"])
def test_one_face_with_plausible_landmarks_in_the_examples(detector, media_dir, name):
    faces = detector.detect(_read_rgb(media_dir / name))
    assert len(faces) == 1
    assert faces[0].score > 0
    _assert_plausible(faces[0])


def test_one_face_in_the_astronaut(detector):
    faces = detector.detect(skimage.data.astronaut())
    assert len(faces) == 1
    _assert_plausible(faces[0])


def test_blank_picture_has_no_face_and_pick_face_says_what_to_do(detector):
    faces = detector.detect(np.full((300, 400, 3), 128, dtype=np.uint8))
    assert faces == []
    with pytest.raises(NoFaceError, match=r"no face found in blank\.png.*'resize' preprocess mode"):
        pick_face(faces, image_name="blank.png")


@pytest.fixture(scope="module")
def pair(media_dir) -> np.ndarray:
    """people_0 (face about 180 px) on the left, the astronaut (face about 130 px) on the right."""
    big = _read_rgb(media_dir / "people_0.png")
    small = cv2.resize(skimage.data.astronaut(), (384, 384))
    canvas = np.full((520, 900, 3), 200, dtype=np.uint8)
    canvas[20:20 + big.shape[0], 0:big.shape[1]] = big
    canvas[100:100 + small.shape[0], 500:500 + small.shape[1]] = small
    return canvas


def test_two_pasted_faces_are_found_most_confident_first(detector, pair):
    faces = detector.detect(pair)
    assert len(faces) == 2
    assert faces[0].score >= faces[1].score
    big, small = ordered_faces(faces, "largest")
    assert big.box[2] <= 474 and small.box[0] >= 500  # big on the left, small on the right
    for face in faces:
        _assert_plausible(face)
    assert pick_face(faces) is faces[0]
    assert pick_face(faces, 1) is faces[1]
    with pytest.raises(NoFaceError, match="face index 2 asked for, but 2 faces found in pair.png"):
        pick_face(faces, 2, image_name="pair.png")


def test_boxes_alone_then_the_landmarks_of_the_chosen_face(detector, pair):
    boxes = detector.find_faces(pair)
    faces = detector.detect(pair)
    assert [b.box for b in boxes] == [f.box for f in faces]  # integer pixel boxes
    assert [type(b) for b in boxes] == [FaceBox, FaceBox]
    for box, face in zip(boxes, faces):
        assert np.array_equal(detector.landmarks(pair, box), face.landmarks)  # integer pixel points


def test_predictor_ships_with_face_recognition_models():
    path = predictor_path()
    assert path.name == "shape_predictor_68_face_landmarks.dat" and path.stat().st_size > 90_000_000


def test_wrong_image_type_is_refused(detector):
    with pytest.raises(ValueError, match=r"RGB uint8 image of shape \(H, W, 3\)"):
        detector.detect(np.zeros((10, 10), dtype=np.float32))
