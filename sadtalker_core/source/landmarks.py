"""The face-landmark interface every detector backend implements: faces with 68 iBUG landmarks.

A backend takes an RGB uint8 picture and returns every face it found as a :class:`FaceBox`, the
most confident first; :func:`pick_face` chooses one of them in a :class:`FaceOrder` (by default the
official one: the detector's most confident face, ``dets[0]`` of the official croper) and raises
errors that say what to do when there is none; the backend then gives the chosen face's
landmarks, so that a picture of many faces costs one landmark run, as in the official code.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

import numpy as np
from torch import nn

from ..errors import NoFaceError

LANDMARK_COUNT = 68


@dataclass(frozen=True, eq=False)
class FaceBox:
    """One detected face before its landmarks: box (x1, y1, x2, y2) in pixels (x2, y2 exclusive;
    may reach past the image) and detector score.  Compared by identity, like :class:`FaceLandmarks`."""

    box: tuple[float, float, float, float]
    score: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "box", tuple(float(v) for v in self.box))
        object.__setattr__(self, "score", float(self.score))

    @property
    def area(self) -> float:
        """Box area in square pixels (0 for a degenerate box)."""
        x1, y1, x2, y2 = self.box
        return max(x2 - x1, 0.0) * max(y2 - y1, 0.0)


Face = TypeVar("Face", bound=FaceBox)


@dataclass(frozen=True, eq=False)
class FaceLandmarks(FaceBox):
    """A detected face with its 68 (x, y) iBUG landmarks in image pixels (read-only float32)."""

    landmarks: np.ndarray

    def __post_init__(self) -> None:
        super().__post_init__()
        points = np.array(self.landmarks, dtype=np.float32)
        if points.shape != (LANDMARK_COUNT, 2):
            raise ValueError(f"expected ({LANDMARK_COUNT}, 2) landmarks, got shape {points.shape}")
        points.setflags(write=False)
        object.__setattr__(self, "landmarks", points)


class LandmarkDetector(ABC):
    """A face detector + 68-point landmark backend, in two steps: every face's box, then the
    landmarks of the faces that are needed (a landmark network run per face can cost more than
    the detection, and SadTalker animates one face)."""

    @abstractmethod
    def find_faces(self, image_rgb: np.ndarray) -> list[FaceBox]:
        """Every face in an (H, W, 3) RGB uint8 image, the highest score first."""

    @abstractmethod
    def landmarks(self, image_rgb: np.ndarray, face: FaceBox) -> np.ndarray:
        """(68, 2) float32 landmarks, in image pixels, of a face :meth:`find_faces` found in ``image_rgb``."""

    def find_faces_in_crop(self, crop_rgb: np.ndarray) -> list[FaceBox]:
        """:meth:`find_faces` on a render crop (the official second detection, on the resized crop);
        a backend whose official call differs there overrides this."""
        return self.find_faces(crop_rgb)

    def networks(self) -> dict[str, nn.Module]:
        """The torch networks the backend runs, by name (none for a backend without any)."""
        return {}

    def detect(self, image_rgb: np.ndarray) -> list[FaceLandmarks]:
        """Every face with its landmarks, the highest score first (landmarks of every box: when one face is
        wanted, :func:`pick_face` on :meth:`find_faces` and then :meth:`landmarks` is cheaper)."""
        image = check_rgb_image(image_rgb)
        return [FaceLandmarks(face.box, face.score, self.landmarks(image, face)) for face in self.find_faces(image)]


def check_rgb_image(image: np.ndarray, needed_by: str = "face detection") -> np.ndarray:
    """``image`` as a C-contiguous (H, W, 3) uint8 array, or a ValueError saying what it is instead."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{needed_by} needs an RGB uint8 image of shape (H, W, 3), got a {desc}")
    return np.ascontiguousarray(image)


class FaceOrder(str, Enum):
    """Which face of several counts as the first (``face_index`` 0) and in which order the rest follow."""

    SCORE = "score"  # the detector's most confident face first: the official choice (dets[0])
    LARGEST = "largest"  # the largest box first


def ordered_faces(faces: Sequence[Face], order: FaceOrder | str = FaceOrder.SCORE) -> list[Face]:
    """``faces`` by descending score or box area (stable: ties keep the detector's order)."""
    key = (lambda face: face.score) if FaceOrder(order) is FaceOrder.SCORE else (lambda face: face.area)
    return sorted(faces, key=key, reverse=True)


def pick_face(faces: Sequence[Face], index: int | None = None, image_name: str = "the image",
              order: FaceOrder | str = FaceOrder.SCORE) -> Face:
    """The face to animate: face ``index`` (default 0) of ``faces`` in ``order``.

    Raises :class:`NoFaceError` naming ``image_name`` when there is no face or the index is out of range.
    """
    if not faces:
        raise NoFaceError(
            f"no face found in {image_name}. Use a picture with a clearly visible, roughly frontal face, "
            "or, if the picture already is a tight crop of the face, the 'resize' preprocess mode."
        )
    index = 0 if index is None else index
    if not 0 <= index < len(faces):
        found = f"{len(faces)} face{'s' if len(faces) != 1 else ''}"
        first = "most confident" if FaceOrder(order) is FaceOrder.SCORE else "largest"
        raise NoFaceError(
            f"face index {index} asked for, but {found} found in {image_name} "
            f"(valid indices: 0 to {len(faces) - 1}, the {first} face first)"
        )
    return ordered_faces(faces, order)[index]
