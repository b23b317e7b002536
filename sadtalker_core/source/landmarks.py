"""The face-landmark interface every detector backend implements: faces with 68 iBUG landmarks.

A backend takes an RGB uint8 picture and returns every face it found as a :class:`FaceBox`,
largest box first; :func:`pick_face` chooses one of them (the largest unless an index is given)
and raises errors that say what to do when there is none; the backend then gives the chosen
face's landmarks, so that a picture of many faces costs one landmark run, as in the official code.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

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
        """Every face in an (H, W, 3) RGB uint8 image, largest box first."""

    @abstractmethod
    def landmarks(self, image_rgb: np.ndarray, face: FaceBox) -> np.ndarray:
        """(68, 2) float32 landmarks, in image pixels, of a face :meth:`find_faces` found in ``image_rgb``."""

    def find_faces_in_crop(self, crop_rgb: np.ndarray) -> list[FaceBox]:
        """:meth:`find_faces` on a render crop (the official second detection, on the resized crop);
        a backend whose official call differs there overrides this."""
        return self.find_faces(crop_rgb)

    def detect(self, image_rgb: np.ndarray) -> list[FaceLandmarks]:
        """Every face with its landmarks, largest first (landmarks of every box: when one face is
        wanted, :func:`pick_face` on :meth:`find_faces` and then :meth:`landmarks` is cheaper)."""
        image = check_rgb_image(image_rgb)
        return [FaceLandmarks(face.box, face.score, self.landmarks(image, face)) for face in self.find_faces(image)]


def check_rgb_image(image: np.ndarray, needed_by: str = "face detection") -> np.ndarray:
    """``image`` as a C-contiguous (H, W, 3) uint8 array, or a ValueError saying what it is instead."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{needed_by} needs an RGB uint8 image of shape (H, W, 3), got a {desc}")
    return np.ascontiguousarray(image)


def largest_first(faces: Sequence[Face]) -> list[Face]:
    """``faces`` ordered by box area, largest first (stable: equal areas keep their order)."""
    return sorted(faces, key=lambda face: face.area, reverse=True)


def pick_face(faces: Sequence[Face], index: int | None = None, image_name: str = "the image") -> Face:
    """The face to animate: ``faces[index]``, or the largest face when ``index`` is None.

    ``faces`` is a detector's result (largest first).  Raises :class:`NoFaceError` naming
    ``image_name`` when there is no face or the index is out of range.
    """
    if not faces:
        raise NoFaceError(
            f"no face found in {image_name}. Use a picture with a clearly visible, roughly frontal face, "
            "or, if the picture already is a tight crop of the face, the 'resize' preprocess mode."
        )
    if index is None:
        return max(faces, key=lambda face: face.area)
    if not 0 <= index < len(faces):
        found = f"{len(faces)} face{'s' if len(faces) != 1 else ''}"
        raise NoFaceError(
            f"face index {index} asked for, but {found} found in {image_name} "
            f"(valid indices: 0 to {len(faces) - 1}, largest face first)"
        )
    return faces[index]
