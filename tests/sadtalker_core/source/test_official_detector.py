"""Official RetinaFace + FAN backend: the golden crop path end to end, and the per-box crop rules."""
from __future__ import annotations

import numpy as np
import pytest

from conformance import load_golden
from sadtalker_core.networks.awing_fan import load_awing_fan
from sadtalker_core.source import official_detector
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
    """Stands in for RetinaFace: returns the given (K, 15) detections."""

    def __init__(self, dets: np.ndarray):
        self.dets = dets
        self.calls: list[tuple[float, float]] = []

    def detect(self, image, score_threshold, nms_threshold):
        self.calls.append((score_threshold, nms_threshold))
        return self.dets


def test_crops_are_cut_at_int_corners_clamped_and_sorted_largest_first(monkeypatch):
    crops = []

    def crop_size_points(fan, crop):  # every landmark at the crop's (width, height)
        crops.append(crop.shape)
        return np.tile([crop.shape[1], crop.shape[0]], (98, 1)).astype(np.float64)

    monkeypatch.setattr(official_detector, "crop_landmarks98", crop_size_points)
    dets = np.zeros((4, 15), dtype=np.float32)
    dets[:, 4] = (0.99, 0.98, 0.975, 0.971)
    dets[0, :4] = (10.7, 20.2, 30.9, 35.5)  # small, best score
    dets[1, :4] = (-5.5, -3.2, 60.0, 200.0)  # past the top-left and bottom edges
    dets[2, :4] = (50.0, 50.0, 50.9, 60.0)  # int() gives an empty crop: skipped
    dets[3, :4] = (70.0, 10.0, 99.0, 40.0)  # mid-sized
    stub = _FixedDetections(dets)
    faces = OfficialDetector(stub, fan=None).detect(np.zeros((100, 100, 3), dtype=np.uint8))
    assert stub.calls == [(0.97, 0.4)]
    assert [f.score for f in faces] == pytest.approx([0.98, 0.971, 0.99])
    assert faces[0].box == pytest.approx((-5.5, -3.2, 60.0, 200.0))
    assert crops == [(15, 20, 3), (100, 60, 3), (30, 29, 3)]
    assert (faces[0].landmarks == (0 + 60, 0 + 100)).all()  # crop from (0, 0): 60 wide, cut at the bottom
    assert (faces[1].landmarks == (70 + 29, 10 + 30)).all()
    assert (faces[2].landmarks == (10 + 20, 20 + 15)).all()
