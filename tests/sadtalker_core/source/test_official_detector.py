"""Official RetinaFace + FAN backend: the golden crop path end to end, and the per-box crop rules."""
from __future__ import annotations

import numpy as np
import pytest

from conformance import load_golden
from sadtalker_core.networks.awing_fan import load_awing_fan
from sadtalker_core.source import official_detector
from sadtalker_core.source.landmarks import FaceBox, pick_face
from sadtalker_core.source.official_detector import OfficialDetector, crop_origin, landmarks_in_box


def test_landmarks_of_the_golden_top_box_match_the_reference(fake_checkpoints, goldens_dir):
    detection = load_golden(goldens_dir / "retinaface.safetensors")
    alignment = load_golden(goldens_dir / "awing_fan.safetensors")
    box = detection["dets_thr0p97"][0].numpy()  # x2 = 508 lies past the 474-px picture
    assert crop_origin(box) == tuple(alignment["det_offset_int"].tolist())
    fan = load_awing_fan(fake_checkpoints.path("alignment_WFLW_4HG.pth"))
    points = landmarks_in_box(fan, detection["image_rgb_uint8"].numpy(), box)
    assert points.dtype == np.float32
    assert np.abs(points - alignment["lm68_orig"].numpy()).max() < 1e-4


class _FixedDetections:
    """Stands in for RetinaFace: returns the given (K, 15) detections, recording what it was given."""

    def __init__(self, dets: np.ndarray):
        self.dets = dets
        self.calls: list[tuple[float, float]] = []
        self.images: list[np.ndarray] = []

    def detect(self, image, score_threshold, nms_threshold):
        self.calls.append((score_threshold, nms_threshold))
        self.images.append(image)
        return self.dets


def _four_detections() -> np.ndarray:
    dets = np.zeros((4, 15), dtype=np.float32)
    dets[:, 4] = (0.99, 0.98, 0.975, 0.971)
    dets[0, :4] = (10.7, 20.2, 30.9, 35.5)  # small, best score
    dets[1, :4] = (-5.5, -3.2, 60.0, 200.0)  # past the top-left and bottom edges
    dets[2, :4] = (50.0, 50.0, 50.9, 60.0)  # int() gives an empty crop: skipped
    dets[3, :4] = (70.0, 10.0, 99.0, 40.0)  # mid-sized
    return dets


@pytest.fixture
def fan_crops(monkeypatch) -> list[tuple[int, ...]]:
    """Stands in for FAN: every landmark at the crop's (width, height); lists the crops it saw."""
    crops = []

    def crop_size_points(fan, crop):
        crops.append(crop.shape)
        return np.tile([crop.shape[1], crop.shape[0]], (98, 1)).astype(np.float64)

    monkeypatch.setattr(official_detector, "crop_landmarks98", crop_size_points)
    return crops


def test_crops_are_cut_at_int_corners_clamped_and_kept_in_retinafaces_score_order(fan_crops):
    stub = _FixedDetections(_four_detections())
    faces = OfficialDetector(stub, fan=None).detect(np.zeros((100, 100, 3), dtype=np.uint8))
    assert stub.calls == [(0.97, 0.4)]
    assert [f.score for f in faces] == pytest.approx([0.99, 0.98, 0.971])  # dets[0] first, as the official croper
    assert faces[1].box == pytest.approx((-5.5, -3.2, 60.0, 200.0))
    assert fan_crops == [(15, 20, 3), (100, 60, 3), (30, 29, 3)]
    assert (faces[0].landmarks == (10 + 20, 20 + 15)).all()
    assert (faces[1].landmarks == (0 + 60, 0 + 100)).all()  # crop from (0, 0): 60 wide, cut at the bottom
    assert (faces[2].landmarks == (70 + 29, 10 + 30)).all()


def test_boxes_come_without_fan_and_fan_runs_on_the_chosen_face_only(fan_crops):
    detector = OfficialDetector(_FixedDetections(_four_detections()), fan=None)
    image = np.zeros((100, 100, 3), dtype=np.uint8)
    boxes = detector.find_faces(image)
    assert [b.score for b in boxes] == pytest.approx([0.99, 0.98, 0.971]) and fan_crops == []
    points = detector.landmarks(image, pick_face(boxes, 2))
    assert fan_crops == [(30, 29, 3)]
    assert (points == (70 + 29, 10 + 30)).all()


def test_a_box_outside_the_picture_is_refused_with_what_to_do():
    detector = OfficialDetector(_FixedDetections(_four_detections()), fan=None)
    with pytest.raises(ValueError, match=r"holds no pixel of the 100x100 picture; use a box find_faces gave"):
        detector.landmarks(np.zeros((100, 100, 3), dtype=np.uint8), FaceBox((150, 150, 180, 190), 0.99))


def test_retinaface_gets_the_picture_as_given_and_the_render_crop_as_bgr(fan_crops):
    """As in the official code: an RGB array to ``detect_faces`` for the picture, a PIL image
    (which facexlib turns into BGR) for the render crop."""
    stub = _FixedDetections(_four_detections())
    detector = OfficialDetector(stub, fan=None)
    image = np.zeros((100, 100, 3), dtype=np.uint8)
    image[..., 0] = 200  # red
    detector.find_faces(image)
    detector.find_faces_in_crop(image)
    assert (stub.images[0][..., 0] == 200).all() and (stub.images[0][..., 2] == 0).all()
    assert (stub.images[1][..., 2] == 200).all() and (stub.images[1][..., 0] == 0).all()
