"""One face followed through the frames of a video: per-frame detection, held over misses, smoothed in time.

The picture path detects its face once; a dubbed video needs the face of every frame, cut with a
crop that follows the head without jittering.  :func:`track_face`:

1. runs the detector on every frame (any :class:`~sadtalker_core.source.landmarks.LandmarkDetector`)
   and keeps one face: ``face_index`` (in ``face_order``: the most confident by default) on the first frame with a face, then
   on each frame the face whose box centre is nearest the previous one's (the same person, even
   when another face is larger for a while);
2. holds the landmarks over frames where no face was found: such a frame takes the previous
   frame's (the first frames, before any face, the first face's); :attr:`FaceTrack.held` lists them;
3. smooths (:meth:`FaceTrack.smoothed`): each frame's landmarks become the mean of the detected
   landmarks within ``radius`` frames around it (a centred moving average; held frames are not
   averaged in, a frame with no detection near it keeps its held landmarks).

Why the landmarks and a centred average: the crop box is a function of the eye and mouth
landmarks (:func:`~sadtalker_core.source.crop.crop_geometry`: a square turned with the eye line
and its bounding box), so averaging them smooths the box's position, size and turn together, as
one shape; averaging the integer corners of boxes would not keep the square a square.  The whole
video is known before rendering, so a centred window has no lag (a causal filter such as the
one-euro filter trades jitter for lag, which a crop trailing a turning head would show); ``radius``
2 (five frames, 0.2 s at 25 fps) removes the detector's frame-to-frame jitter of a few pixels while
a head turn of a few frames still moves the crop with it.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from ..errors import InputError, NoFaceError
from .face import to_rgb_uint8
from .landmarks import FaceBox, FaceOrder, LandmarkDetector, pick_face

Value = TypeVar("Value")

#: frames on each side of a frame in the moving average of the crop landmarks (0: no smoothing)
SMOOTHING_RADIUS = 2


@dataclass(frozen=True, eq=False)
class FaceTrack:
    """The tracked face of a video's frames: ``landmarks`` (N, 68, 2) float32 in frame pixels as
    detected, held over the frames where ``found`` (N,) is False; ``fps`` gives frame times."""

    landmarks: np.ndarray
    found: np.ndarray
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.found.shape[0])

    @property
    def held(self) -> tuple[int, ...]:
        """Frames without a detected face, whose landmarks are held from a neighbour."""
        return tuple(int(i) for i in np.flatnonzero(~self.found))

    def time(self, frame: int) -> float:
        """Seconds from the start of the video to ``frame``."""
        return frame / self.fps

    def smoothed(self, radius: int = SMOOTHING_RADIUS) -> np.ndarray:
        """(N, 68, 2) float32: each frame's landmarks averaged with the detected ones within
        ``radius`` frames (see the module docstring); ``radius`` 0 gives the landmarks as held."""
        if radius < 0:
            raise ValueError(f"smoothing radius must be >= 0 frames, got {radius}")
        weights = self.found.astype(np.float64)
        # running sums over the frames: sum of [t - radius, t + radius] = cum[hi] - cum[lo]
        points = np.concatenate([np.zeros((1, 68, 2)), np.cumsum(self.landmarks * weights[:, None, None], axis=0)])
        counts = np.concatenate([[0.0], np.cumsum(weights)])
        frames = np.arange(self.num_frames)
        lo, hi = np.clip(frames - radius, 0, None), np.clip(frames + radius + 1, None, self.num_frames)
        count = counts[hi] - counts[lo]
        mean = (points[hi] - points[lo]) / np.maximum(count, 1.0)[:, None, None]
        smoothed = np.where((count > 0)[:, None, None], mean, self.landmarks)
        return smoothed.astype(np.float32)


def _centre(face: FaceBox) -> np.ndarray:
    x1, y1, x2, y2 = face.box
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2])


def hold_missing(values: Sequence[Value | None]) -> list[Value]:
    """``values`` with each None replaced by the previous value (leading Nones by the first value):
    what a frame without a face takes from its neighbours."""
    first = next((value for value in values if value is not None), None)
    if first is None:
        raise ValueError("nothing to hold: every value is None")
    held, previous = [], first
    for value in values:
        previous = previous if value is None else value
        held.append(previous)
    return held


def track_face(frames: Iterable[np.ndarray], detector: LandmarkDetector, face_index: int | None = None,
               fps: float = 25.0, name: str = "the video", face_order: FaceOrder | str = FaceOrder.SCORE) -> FaceTrack:
    """Detect and follow one face through ``frames`` (RGB, uint8 or float 0..1; see the module
    docstring).  A video without any face raises :class:`NoFaceError` naming ``name``; a
    ``face_index`` missing from the first frame with faces raises it naming that frame."""
    landmarks: list[np.ndarray | None] = []
    previous: np.ndarray | None = None
    for index, frame in enumerate(frames):
        frame_name = f"frame {index} ({index / fps:.2f} s) of {name}"
        rgb = to_rgb_uint8(frame, frame_name)
        faces = detector.find_faces(rgb)
        if not faces:
            landmarks.append(None)
            continue
        if previous is None:
            face = pick_face(faces, face_index, frame_name, face_order)
        else:
            face = min(faces, key=lambda f: float(np.hypot(*(_centre(f) - previous))))
        previous = _centre(face)
        landmarks.append(detector.landmarks(rgb, face))
    if not landmarks:
        raise InputError(f"{name} has no frames")
    if previous is None:
        raise NoFaceError(f"no face found in any of the {len(landmarks)} frames of {name}; "
                          "give a video that shows a clearly visible, roughly frontal face")
    found = np.array([points is not None for points in landmarks])
    return FaceTrack(np.stack(hold_missing(landmarks)).astype(np.float32), found, float(fps))
