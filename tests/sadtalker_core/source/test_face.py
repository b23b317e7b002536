"""Source picture -> the face to animate, on real pictures with the dlib detector: the official
second landmark detection on the render crop (default), the mapped landmarks (option), the
mean-face fallback when the crop shows no face, one landmark run per picture however many faces
it holds, and video frames through the same code."""
from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from sadtalker_core.io.video_reader import iter_frames
from sadtalker_core.networks.recon_net import load_recon_net
from sadtalker_core.source.align import align_face
from sadtalker_core.source.crop import crop_geometry
from sadtalker_core.source.dlib_detector import DlibDetector
from sadtalker_core.source.extract import extract_3dmm
from sadtalker_core.source.face import extract_sequence, extract_source, landmarks_in_crop, read_image
from sadtalker_core.source.landmarks import FaceBox, LandmarkDetector, pick_face

CROP = (256, 256, 3)


class Recorded(LandmarkDetector):
    """A detector that lists every call (method, image shape) before passing it on."""

    def __init__(self, inner: LandmarkDetector):
        self.inner = inner
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def find_faces(self, image_rgb):
        self.calls.append(("find_faces", image_rgb.shape))
        return self.inner.find_faces(image_rgb)

    def find_faces_in_crop(self, crop_rgb):
        self.calls.append(("find_faces_in_crop", crop_rgb.shape))
        return self.inner.find_faces_in_crop(crop_rgb)

    def landmarks(self, image_rgb, face):
        self.calls.append(("landmarks", image_rgb.shape))
        return self.inner.landmarks(image_rgb, face)


@pytest.fixture(scope="module")
def recon(fake_checkpoints):
    return load_recon_net(fake_checkpoints.path("epoch_20.pth"))  # the smallest file holding the regressor


@pytest.fixture(scope="module")
def dlib() -> DlibDetector:
    return DlibDetector()


def _coeffs_of(recon, crop_image: np.ndarray, landmarks: np.ndarray | None) -> torch.Tensor:
    return extract_3dmm(recon, align_face(crop_image, landmarks)).source


@pytest.mark.parametrize("name", ["people_0.png", "art_0.png", "full_body_1.png"])
def test_by_default_the_landmarks_are_detected_again_on_the_render_crop(recon, dlib, media_dir, name):
    image = read_image(media_dir / name)
    detector = Recorded(dlib)
    source = extract_source(image, recon, "crop", 256, detector, name=name)

    assert detector.calls == [("find_faces", image.shape), ("landmarks", image.shape),
                              ("find_faces_in_crop", CROP), ("landmarks", CROP)]
    on_crop = pick_face(dlib.detect(source.crop.image)).landmarks
    assert np.array_equal(source.landmarks, on_crop)  # dlib gives whole pixels
    torch.testing.assert_close(source.source_coeff, _coeffs_of(recon, source.crop.image, on_crop))
    # the first detection mapped into the crop lands on the same face, within the detector's error
    mapped = landmarks_in_crop(pick_face(dlib.detect(image)).landmarks, source.crop)
    assert np.abs(mapped - on_crop).mean() < 2.0


def test_mapped_landmarks_skip_the_second_detection(recon, dlib, media_dir):
    image = read_image(media_dir / "people_0.png")
    detector = Recorded(dlib)
    source = extract_source(image, recon, "crop", 256, detector, crop_landmarks="mapped")

    assert detector.calls == [("find_faces", image.shape), ("landmarks", image.shape)]
    first = pick_face(dlib.detect(image)).landmarks
    np.testing.assert_allclose(source.landmarks, landmarks_in_crop(first, source.crop), atol=1e-4)
    torch.testing.assert_close(source.source_coeff, _coeffs_of(recon, source.crop.image, source.landmarks))


def test_resize_mode_detects_on_the_resized_picture_only(recon, dlib, media_dir):
    image = read_image(media_dir / "people_0.png")
    detector = Recorded(dlib)
    source = extract_source(image, recon, "resize", 256, detector)
    assert detector.calls == [("find_faces_in_crop", CROP), ("landmarks", CROP)]
    assert np.array_equal(source.landmarks, pick_face(dlib.detect(cv2.resize(image, (256, 256)))).landmarks)


def test_without_a_face_on_the_crop_the_mean_face_position_stands_in(recon, dlib, media_dir):
    """full_body_1's face is about 25 px once the whole picture is squashed to 256 px: dlib sees
    no face there, and the official code aligns the standard landmarks instead."""
    image = read_image(media_dir / "full_body_1.png")
    assert dlib.find_faces(cv2.resize(image, (256, 256))) == []
    with pytest.warns(UserWarning, match=r"no face found in the 256 px crop of full_body_1\.png; the mean face"):
        source = extract_source(image, recon, "resize", 256, dlib, name="full_body_1.png")
    assert source.landmarks is None
    torch.testing.assert_close(source.source_coeff, _coeffs_of(recon, source.crop.image, None))


def test_given_landmarks_place_the_crop_and_a_faceless_crop_falls_back(recon, dlib, media_dir):
    """The face's landmarks on a picture where the face was painted over: the crop is where the
    landmarks say, and the detector finds nothing in it."""
    real = read_image(media_dir / "people_0.png")
    landmarks = pick_face(dlib.detect(real)).landmarks
    painted = np.full_like(real, 128)
    with pytest.warns(UserWarning, match="no face found in the 256 px crop of painted.png"):
        source = extract_source(painted, recon, "crop", 256, dlib, landmarks=landmarks, name="painted.png")
    assert source.landmarks is None
    assert source.crop.info == crop_geometry(landmarks, (real.shape[1], real.shape[0]))


def test_the_detected_path_needs_a_detector_even_with_given_landmarks(recon, media_dir):
    image = read_image(media_dir / "people_0.png")
    landmarks = np.tile(np.float32([200, 200]), (68, 1))
    with pytest.raises(ValueError, match=r"needs a landmark detector to find the landmarks on the render crop.*"
                                         r"crop_landmarks='mapped'"):
        extract_source(image, recon, "crop", 256, landmarks=landmarks)
    with pytest.raises(ValueError, match="needs a landmark detector or the face's landmarks"):
        extract_source(image, recon, "crop", 256, crop_landmarks="mapped")


def test_of_several_faces_only_the_chosen_one_gets_landmarks(recon, dlib, media_dir):
    big = read_image(media_dir / "people_0.png")
    small = cv2.resize(skimage.data.astronaut(), (384, 384))
    canvas = np.full((520, 900, 3), 200, dtype=np.uint8)
    canvas[20:20 + big.shape[0], :big.shape[1]] = big
    canvas[100:100 + small.shape[0], 500:500 + small.shape[1]] = small
    detector = Recorded(dlib)
    source = extract_source(canvas, recon, "crop", 256, detector, face_index=1)
    assert len(dlib.find_faces(canvas)) == 2
    assert [call for call, _ in detector.calls] == ["find_faces", "landmarks", "find_faces_in_crop", "landmarks"]
    assert source.crop.info.crop.x1 >= 450 and source.landmarks is not None  # the astronaut, on the right


@pytest.fixture(scope="module")
def clip_frames(media_dir) -> list[np.ndarray]:
    """Frames 0 and 2 of a real video with a blank frame between them."""
    frames = list(itertools.islice(iter_frames(media_dir / "WDA_AlexandriaOcasioCortez_000.mp4"), 3))
    return [frames[0], np.full_like(frames[1], 128), frames[2]]


def test_video_frames_are_cut_as_the_first_and_detected_on_their_crops(recon, dlib, clip_frames):
    detector = Recorded(dlib)
    faces = list(extract_sequence(clip_frames, recon, detector, "crop", 256, name="clip.mp4"))

    assert [call for call, _ in detector.calls] == ["find_faces", "landmarks", "find_faces_in_crop", "landmarks",
                                                    "find_faces_in_crop", "find_faces_in_crop", "landmarks"]
    for face, frame in zip(faces, clip_frames):
        assert face.crop.info is faces[0].crop.info
        assert np.array_equal(face.crop.image, faces[0].crop.render_input(frame))
    for index in (0, 2):
        assert np.array_equal(faces[index].landmarks, pick_face(dlib.detect(faces[index].crop.image)).landmarks)
    assert faces[1].landmarks is faces[0].landmarks  # the blank frame keeps the previous frame's
    torch.testing.assert_close(faces[2].source_coeff, _coeffs_of(recon, faces[2].crop.image, faces[2].landmarks))


def test_mapped_video_frames_map_the_first_frame_only(recon, dlib, clip_frames):
    detector = Recorded(dlib)
    faces = list(extract_sequence(clip_frames, recon, detector, "crop", 256, crop_landmarks="mapped"))
    assert [call for call, _ in detector.calls] == ["find_faces", "landmarks", "find_faces_in_crop",
                                                    "find_faces_in_crop", "landmarks"]
    first = pick_face(dlib.detect(clip_frames[0])).landmarks
    np.testing.assert_allclose(faces[0].landmarks, landmarks_in_crop(first, faces[0].crop), atol=1e-4)


def _face_points(x: float, y: float) -> np.ndarray:
    """The points alignment uses (eyes, nose tip, mouth corners) of a 100 px face at (x, y); the others on the nose."""
    points = np.tile(np.float32([x + 50, y + 55]), (68, 1))
    points[36:42], points[42:48] = (x + 30, y + 40), (x + 70, y + 40)
    points[48], points[54] = (x + 35, y + 75), (x + 65, y + 75)
    return points


class _TwoFacesThenNone(LandmarkDetector):
    """Two faces on the first picture it sees, none afterwards."""

    def __init__(self):
        self.seen = 0

    def find_faces(self, image_rgb):
        self.seen += 1
        return [FaceBox((10, 10, 200, 200), 0.9), FaceBox((20, 30, 120, 130), 0.9)] if self.seen == 1 else []

    def landmarks(self, image_rgb, face):
        return _face_points(*face.box[:2])


def test_resize_mode_picks_the_face_asked_for_on_the_crop_and_a_frame_without_it_keeps_the_last(
        recon, clip_frames):
    faces = list(extract_sequence(clip_frames[:2], recon, _TwoFacesThenNone(), "resize", 256, face_index=1))
    assert np.array_equal(faces[0].landmarks, _face_points(20, 30))
    assert faces[1].landmarks is faces[0].landmarks
