"""The official SadTalker landmark path: RetinaFace-ResNet50 boxes, AWing FAN 98 points -> 68.

For the chosen detection, as ``Preprocesser.get_landmark`` does for its top one: the box corners
are truncated with ``int()``, the picture is cut at them (a box reaching past the right / bottom
edge is cut at the edge, as a numpy slice does), FAN runs on that crop and the landmarks are moved
back by the crop's top-left corner.  Where the reference would slice from the END of the picture
(a negative corner), the crop starts at 0 instead, and the offset with it.

Channel order, as the official calls have it: on the input picture RetinaFace gets the RGB array
as it is (facexlib takes arrays for BGR); on the render crop (``KeypointExtractor``, which hands
facexlib a PIL image that it converts to BGR) it gets BGR.  FAN gets the RGB crop both times.
Needs the official ``detection_Resnet50_Final.pth`` and ``alignment_WFLW_4HG.pth``.
"""
from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from ..networks.awing_fan import AwingFAN, crop_landmarks98, landmark_98_to_68, load_awing_fan
from ..networks.retinaface import NMS_IOU_THRESHOLD, SADTALKER_SCORE_THRESHOLD, RetinaFace, load_retinaface
from .landmarks import FaceBox, LandmarkDetector, check_rgb_image, ordered_faces


def crop_origin(box: np.ndarray) -> tuple[int, int]:
    """Top-left (x, y) of the crop cut for a detection box: ``int()`` of its corner, at least 0."""
    return max(int(box[0]), 0), max(int(box[1]), 0)


def box_crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The part of ``image`` FAN sees for a detection box (empty when ``int()`` of the box holds no pixel)."""
    x0, y0 = crop_origin(box)
    return image[y0:int(box[3]), x0:int(box[2])]


def landmarks_in_box(fan: AwingFAN, image_rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """68 (x, y) float32 landmarks in image pixels for one detection box, or None if its crop is empty."""
    crop = box_crop(image_rgb, box)
    if crop.shape[0] == 0 or crop.shape[1] == 0:
        return None
    return landmark_98_to_68(crop_landmarks98(fan, crop)) + np.array(crop_origin(box), dtype=np.float32)


class OfficialDetector(LandmarkDetector):
    """:class:`~sadtalker_core.source.landmarks.LandmarkDetector` backed by the official networks."""

    def __init__(self, retinaface: RetinaFace, fan: AwingFAN,
                 score_threshold: float = SADTALKER_SCORE_THRESHOLD) -> None:
        self.retinaface = retinaface
        self.fan = fan
        self.score_threshold = score_threshold

    def networks(self) -> dict[str, nn.Module]:
        return {"retinaface": self.retinaface, "fan": self.fan}

    @classmethod
    def from_files(cls, detection_path: str | os.PathLike, alignment_path: str | os.PathLike,
                   device: torch.device | str = "cpu") -> OfficialDetector:
        """Load ``detection_Resnet50_Final.pth`` and ``alignment_WFLW_4HG.pth`` onto ``device``."""
        return cls(load_retinaface(detection_path, device), load_awing_fan(alignment_path, device))

    def find_faces(self, image_rgb: np.ndarray) -> list[FaceBox]:
        """Every face RetinaFace keeps (score > threshold, after NMS) whose box holds pixels, in RetinaFace's
        order: the highest score first."""
        image = check_rgb_image(image_rgb)
        return self._boxes(image, image)

    def find_faces_in_crop(self, crop_rgb: np.ndarray) -> list[FaceBox]:
        """:meth:`find_faces` with the crop's channels reversed for RetinaFace, as on the official crop."""
        crop = check_rgb_image(crop_rgb)
        return self._boxes(crop, np.ascontiguousarray(crop[..., ::-1]))

    @torch.inference_mode()
    def _boxes(self, image: np.ndarray, detector_view: np.ndarray) -> list[FaceBox]:
        dets = self.retinaface.detect(detector_view, self.score_threshold, NMS_IOU_THRESHOLD)
        return ordered_faces([FaceBox(tuple(det[:4]), float(det[4])) for det in dets if box_crop(image, det).size])

    @torch.inference_mode()
    def landmarks(self, image_rgb: np.ndarray, face: FaceBox) -> np.ndarray:
        """FAN's landmarks (98 -> 68) in the crop cut at ``face``'s box, in image pixels."""
        points = landmarks_in_box(self.fan, check_rgb_image(image_rgb), np.asarray(face.box))
        if points is None:
            raise ValueError(f"the face box {face.box} holds no pixel of the {image_rgb.shape[1]}x"
                             f"{image_rgb.shape[0]} picture; use a box find_faces gave for this picture")
        return points
