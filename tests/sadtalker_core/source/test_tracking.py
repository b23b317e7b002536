"""One face followed through a video: the face chosen on the first frame followed by position,
landmarks held over frames without a face (listed with their times), a centred moving average of
the detected landmarks, and a clear error for a video without any face.

The detector is scripted (each frame's faces given by the test), so the tracking logic is checked
exactly; the dub tests run the real detector on a real video."""
from __future__ import annotations

import numpy as np
import pytest

from sadtalker_core.errors import InputError, NoFaceError
from sadtalker_core.source.landmarks import FaceBox, LandmarkDetector
from sadtalker_core.source.tracking import FaceTrack, track_face

FRAME = np.zeros((64, 64, 3), np.uint8)


def _points(x: float, y: float = 0.0) -> np.ndarray:
    """68 landmarks, all at (x, y) plus a fixed spread (the spread shows that points keep their order)."""
    return (np.stack([np.arange(68.0), -np.arange(68.0)], axis=1) + (x, y)).astype(np.float32)


class Scripted(LandmarkDetector):
    """Frame i (told by the frame's first pixel) has the faces ``script[i]``: (box, landmarks) pairs."""

    def __init__(self, script: list[list[tuple[tuple[float, float, float, float], np.ndarray]]]):
        self.script = script

    def find_faces(self, image_rgb):
        faces = [FaceBox(box, 1.0) for box, _ in self.script[int(image_rgb[0, 0, 0])]]
        return sorted(faces, key=lambda face: face.area, reverse=True)

    def landmarks(self, image_rgb, face):
        return next(points for box, points in self.script[int(image_rgb[0, 0, 0])] if tuple(map(float, box)) == face.box)


def _frames(count: int) -> list[np.ndarray]:
    frames = []
    for i in range(count):
        frame = FRAME.copy()
        frame[0, 0] = i
        frames.append(frame)
    return frames


def _face(x: float, size: float = 20) -> tuple[tuple[float, float, float, float], np.ndarray]:
    return (x, 0, x + size, size), _points(x)


def test_frames_without_a_face_hold_the_previous_landmarks_and_are_listed_with_their_times():
    script = [[], [_face(10)], [], [], [_face(14)]]
    track = track_face(_frames(5), Scripted(script), fps=25)
    assert track.held == (0, 2, 3)
    assert [track.time(i) for i in track.held] == [0.0, 0.08, 0.12]
    expected = [10, 10, 10, 10, 14]  # the leading frame takes the first face, later misses the previous one
    np.testing.assert_array_equal(track.landmarks, np.stack([_points(x) for x in expected]))


def test_the_face_chosen_on_the_first_frame_is_followed_by_position_not_by_size():
    # frame 0: the small face at x=40 is asked for; from frame 1 a larger face appears next to it
    script = [[_face(0, 30), _face(40, 20)], [_face(0, 40), _face(42, 20)], [_face(0, 40), _face(45, 20)]]
    track = track_face(_frames(3), Scripted(script), face_index=1)
    np.testing.assert_array_equal(track.landmarks[:, 0, 0], [40, 42, 45])
    assert track.held == ()


def test_smoothing_is_a_centred_moving_average_of_the_detected_landmarks():
    xs = [0.0, 10.0, 2.0, 12.0, 4.0, 14.0, 6.0]
    track = FaceTrack(np.stack([_points(x) for x in xs]), np.ones(7, bool), 25.0)
    smoothed = track.smoothed(radius=1)
    expected = [np.mean(xs[max(t - 1, 0):t + 2]) for t in range(7)]  # clamped at both ends
    np.testing.assert_allclose(smoothed[:, 0, 0], expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(smoothed[:, 5] - smoothed[:, 0], track.landmarks[:, 5] - track.landmarks[:, 0],
                               atol=1e-5)  # the face's shape is kept, only its position averaged
    assert np.abs(np.diff(smoothed[:, 0, 0])).max() < np.abs(np.diff(xs)).max() / 2  # the jitter is damped
    np.testing.assert_array_equal(track.smoothed(radius=0), track.landmarks)


def test_held_frames_are_left_out_of_the_average_and_keep_their_landmarks_far_from_any_detection():
    found = np.array([True, False, True, False, False, False, True])
    landmarks = np.stack([_points(x) for x in [0, 0, 6, 6, 6, 6, 9]])
    smoothed = FaceTrack(landmarks, found, 25.0).smoothed(radius=1)
    # frame 1 averages frames 0 and 2 only; frame 3 sees frame 2 only, frame 5 frame 6 only;
    # frame 4 sees no detection and keeps its held landmarks
    np.testing.assert_allclose(smoothed[:, 0, 0], [0, 3, 6, 6, 6, 9, 9], atol=1e-5)


def test_a_video_without_any_face_is_an_error_naming_it():
    with pytest.raises(NoFaceError, match="no face found in any of the 3 frames of talk.mp4"):
        track_face(_frames(3), Scripted([[], [], []]), name="talk.mp4")
    with pytest.raises(InputError, match="talk.mp4 has no frames"):
        track_face([], Scripted([]), name="talk.mp4")


def test_a_face_index_missing_from_the_first_face_frame_is_an_error_naming_the_frame_and_time():
    with pytest.raises(NoFaceError, match=r"face index 1 asked for, but 1 face found in frame 1 \(0.04 s\) of v.mp4"):
        track_face(_frames(2), Scripted([[], [_face(0)]]), face_index=1, name="v.mp4")
