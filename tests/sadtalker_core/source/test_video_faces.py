"""Every frame of a real talking video as a source face (dlib detector, fake-weight regressor): its
own crop from the smoothed track and its own coefficients; a frame the detector misses but whose
held crop shows the face is still rendered; a blank frame is passed through with a warning naming
its time."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from talking_video import talking_frames

from sadtalker_core.errors import InputError
from sadtalker_core.networks.recon_net import load_recon_net
from sadtalker_core.source.crop import crop_geometry
from sadtalker_core.source.dlib_detector import DlibDetector
from sadtalker_core.source.landmarks import LandmarkDetector
from sadtalker_core.source.tracking import track_face
from sadtalker_core.source.video_faces import extract_video_faces


@pytest.fixture(scope="module")
def recon(fake_checkpoints):
    return load_recon_net(fake_checkpoints.path("epoch_20.pth"))


@pytest.fixture(scope="module")
def dlib() -> DlibDetector:
    return DlibDetector()


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return talking_frames(4)


def test_every_frame_gets_the_crop_of_its_smoothed_landmarks_and_its_own_coefficients(frames, dlib, recon):
    track = track_face(frames, dlib, name="talk.mp4")
    faces = extract_video_faces(frames, track, recon, dlib, "full", 256, radius=1, name="talk.mp4")
    assert faces.num_frames == 4 and faces.held == faces.passed == ()
    smoothed = track.smoothed(1)
    for t in range(4):
        assert faces.crops[t] == crop_geometry(smoothed[t], (384, 320))
    assert faces.coeffs.shape == (4, 73)
    assert (faces.coeffs[1] - faces.coeffs[0]).abs().max() > 1e-4  # each frame its own coefficients
    torch.testing.assert_close(faces.coeffs[:1], faces.first.source_coeff, rtol=0, atol=0)
    crop = faces.crop(2, frames[2])
    assert crop.image.shape == (256, 256, 3) and crop.full_image is frames[2]
    assert crop.original_size == faces.crops[2].size


class MissesFrame(LandmarkDetector):
    """dlib, except that on the whole of frame ``miss`` (told by its pixels) it finds no face."""

    def __init__(self, inner: LandmarkDetector, miss: np.ndarray):
        self.inner, self.miss = inner, miss

    def find_faces(self, image_rgb):
        return [] if np.array_equal(image_rgb, self.miss) else self.inner.find_faces(image_rgb)

    def find_faces_in_crop(self, crop_rgb):
        return self.inner.find_faces_in_crop(crop_rgb)

    def landmarks(self, image_rgb, face):
        return self.inner.landmarks(image_rgb, face)


def test_a_frame_the_detector_misses_is_held_and_still_rendered_when_its_held_crop_shows_the_face(frames, dlib, recon):
    detector = MissesFrame(dlib, frames[1])
    track = track_face(frames, detector)
    faces = extract_video_faces(frames, track, recon, detector, "full", 256)
    assert faces.held == (1,) and faces.passed == ()
    assert faces.crops[1] is not None
    assert (faces.coeffs[1] - faces.coeffs[0]).abs().max() > 1e-4  # regressed from its own crop, not held


def test_a_blank_frame_is_passed_through_with_a_warning_naming_its_time(dlib, recon):
    frames = talking_frames(4, blank=2)
    track = track_face(frames, dlib, name="talk.mp4")
    with pytest.warns(UserWarning, match=r"no face at 0\.08 s \(frame 2\) of talk\.mp4: passed through unchanged"):
        faces = extract_video_faces(frames, track, recon, dlib, "full", 256, name="talk.mp4")
    assert faces.held == (2,) and faces.passed == (2,)
    assert faces.crops[2] is None and faces.crop(2, frames[2]) is None
    torch.testing.assert_close(faces.coeffs[2], faces.coeffs[1], rtol=0, atol=0)  # held for the neighbours' windows


def test_resize_mode_and_frames_that_change_between_passes_are_refused(frames, dlib, recon):
    track = track_face(frames, dlib)
    with pytest.raises(InputError, match="preprocess 'resize' cuts no face"):
        extract_video_faces(frames, track, recon, dlib, "resize")
    with pytest.raises(InputError, match="talk.mp4 gave 2 frames when read again, 4 the first time"):
        extract_video_faces(frames[:2], track, recon, dlib, "crop", name="talk.mp4")
