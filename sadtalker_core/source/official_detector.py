"""The official SadTalker landmark path: RetinaFace-ResNet50 boxes, AWing FAN 98 points -> 68.

Per detection, as ``Preprocesser.get_landmark`` does for its top one: the box corners are
truncated with ``int()``, the picture is cut at them (a box reaching past the right / bottom edge
is cut at the edge, as a numpy slice does), FAN runs on that crop and the landmarks are moved back
by the crop's top-left corner.  Where the reference would slice from the END of the picture (a
negative corner), the crop starts at 0 instead, and the offset with it.  Needs the official
``detection_Resnet50_Final.pth`` and ``alignment_WFLW_4HG.pth``.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ..networks.awing_fan import AwingFAN, crop_landmarks98, landmark_98_to_68, load_awing_fan
from ..networks.retinaface import NMS_IOU_THRESHOLD, SADTALKER_SCORE_THRESHOLD, RetinaFace, load_retinaface
from .landmarks import FaceLandmarks, check_rgb_image, largest_first


def crop_origin(box: np.ndarray) -> tuple[int, int]:
    """Top-left (x, y) of the crop cut for a detection box: ``int()`` of its corner, at least 0."""
    return max(int(box[0]), 0), max(int(box[1]), 0)


def landmarks_in_box(fan: AwingFAN, image_rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """68 (x, y) float32 landmarks in image pixels for one detection box, or None if its crop is empty."""
    x0, y0 = crop_origin(box)
    crop = image_rgb[y0:int(box[3]), x0:int(box[2])]
    if crop.shape[0] == 0 or crop.shape[1] == 0:
        return None
    points = landmark_98_to_68(crop_landmarks98(fan, crop))
    return points + np.array([x0, y0], dtype=np.float32)


class OfficialDetector:
    """:class:`~sadtalker_core.source.landmarks.LandmarkDetector` backed by the official networks."""

    def __init__(self, retinaface: RetinaFace, fan: AwingFAN,
                 score_threshold: float = SADTALKER_SCORE_THRESHOLD) -> None:
        self.retinaface = retinaface
        self.fan = fan
        self.score_threshold = score_threshold

    @classmethod
    def from_files(cls, detection_path: str | os.PathLike, alignment_path: str | os.PathLike,
                   device: torch.device | str = "cpu") -> OfficialDetector:
        """Load ``detection_Resnet50_Final.pth`` and ``alignment_WFLW_4HG.pth`` onto ``device``."""
        return cls(load_retinaface(detection_path, device), load_awing_fan(alignment_path, device))

    @torch.inference_mode()
    def detect(self, image_rgb: np.ndarray) -> list[FaceLandmarks]:
        """Every face RetinaFace keeps (score > threshold, after NMS), with FAN landmarks, largest first."""
        image = check_rgb_image(image_rgb)
        faces = []
        for det in self.retinaface.detect(image, self.score_threshold, NMS_IOU_THRESHOLD):
            points = landmarks_in_box(self.fan, image, det)
            if points is not None:
                faces.append(FaceLandmarks(tuple(det[:4]), float(det[4]), points))
        return largest_first(faces)
