"""Default landmark backend, no downloads needed: dlib's HOG frontal face detector and its
68-point iBUG shape predictor.

The predictor file ``shape_predictor_68_face_landmarks.dat`` ships in the ``face_recognition_models``
package; it is found by path without importing that package (its ``__init__`` needs
``pkg_resources``, which recent setuptools no longer provide).  Install with
``pip install dlib-bin face_recognition_models``.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..errors import MissingPackageError
from .landmarks import LANDMARK_COUNT, FaceBox, LandmarkDetector, check_rgb_image, ordered_faces

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


def predictor_path() -> Path:
    """Where the installed ``face_recognition_models`` keeps the 68-point shape predictor."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise MissingPackageError(
            "the dlib landmark backend needs the 'face_recognition_models' package: pip install face_recognition_models"
        )
    path = Path(spec.origin).parent / "models" / PREDICTOR_FILE
    if not path.is_file():
        raise MissingPackageError(f"{path} not found: the face_recognition_models install is incomplete, reinstall it")
    return path


class DlibDetector(LandmarkDetector):
    """:class:`~sadtalker_core.source.landmarks.LandmarkDetector` using dlib.

    ``upsampling`` lists how many times to double the picture before detecting, tried in turn
    until a face is found: at 0 dlib finds faces from about 80 px up, quickly and with few false
    hits (it took the mission patch of scikit-image's astronaut for a face at 1); at 1 from about
    40 px, at about 4x the cost.
    """

    def __init__(self, upsampling: tuple[int, ...] = (0, 1)) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise MissingPackageError("the dlib landmark backend needs dlib: pip install dlib-bin") from exc
        if not upsampling or min(upsampling) < 0:
            raise ValueError(f"upsampling must list one or more counts >= 0, got {upsampling}")
        self.upsampling = upsampling
        self._rectangle = dlib.rectangle
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(predictor_path()))

    def find_faces(self, image_rgb: np.ndarray) -> list[FaceBox]:
        """Every face dlib finds, the highest score first.  Boxes are dlib's rectangles with exclusive right /
        bottom; the score is the detector's SVM margin (> 0)."""
        image = check_rgb_image(image_rgb)
        for upsample in self.upsampling:
            rects, scores, _ = self._detector.run(image, upsample, 0.0)
            if rects:
                break
        faces = [FaceBox((rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1), score)
                 for rect, score in zip(rects, scores)]
        return ordered_faces(faces)

    def landmarks(self, image_rgb: np.ndarray, face: FaceBox) -> np.ndarray:
        """The shape predictor's 68 points inside ``face``'s box."""
        x1, y1, x2, y2 = (int(v) for v in face.box)
        shape = self._predictor(check_rgb_image(image_rgb), self._rectangle(x1, y1, x2 - 1, y2 - 1))
        return np.array([(shape.part(i).x, shape.part(i).y) for i in range(LANDMARK_COUNT)], dtype=np.float32)
