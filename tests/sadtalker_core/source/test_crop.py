"""Crop geometry and the five preprocess modes against the ``croper`` / ``paste_pic`` goldens."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from safetensors.torch import load_file

from sadtalker_core.source.crop import Box, CropInfo, FaceCrop, PreprocessMode, crop_face, crop_geometry


@pytest.fixture(scope="module")
def croper(goldens_dir) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in load_file(goldens_dir / "croper.safetensors").items()}


@pytest.fixture(scope="module")
def full_body(media_dir, croper) -> np.ndarray:
    """full_body_1.png decoded as the reference did (cv2.imread, then RGB); its crop is the pixels
    the reference cut (a pure slice of the decoded picture, so exactly equal)."""
    rgb = cv2.cvtColor(cv2.imread(str(media_dir / "full_body_1.png")), cv2.COLOR_BGR2RGB)
    x1, y1, x2, y2 = croper["full_body_1_crop"].tolist()
    np.testing.assert_array_equal(rgb[y1:y2, x1:x2], croper["full_body_1_cropped_still_uint8"])
    return rgb


def _landmarks(mouth_y: float, eyes: tuple[float, float, float], mouth_x: tuple[float, float]) -> np.ndarray:
    """68 landmarks with only what the geometry reads set: eyes 36-41 / 42-47, mouth corners 48 / 54."""
    left_x, right_x, eye_y = eyes
    lm = np.zeros((68, 2), np.float32)
    lm[36:42] = (left_x, eye_y)
    lm[42:48] = (right_x, eye_y)
    lm[48] = (mouth_x[0], mouth_y)
    lm[54] = (mouth_x[1], mouth_y)
    return lm


@pytest.mark.parametrize("picture", ["people_0", "full_body_1"])
def test_geometry_matches_golden(croper, media_dir, picture):
    height, width = cv2.imread(str(media_dir / f"{picture}.png")).shape[:2]
    info = crop_geometry(croper[f"{picture}_lm68"], (width, height))
    assert info.rsize == tuple(croper[f"{picture}_rsize"]) == (width, height)
    c = info.crop
    assert (c.x1, c.y1, c.x2, c.y2) == tuple(croper[f"{picture}_crop"])
    assert np.abs(np.array(info.quad) - croper[f"{picture}_quad"]).max() <= 1e-9
    assert info.size == tuple(croper[f"{picture}_crop_info_size"])


# full_body_1 golden geometry: crop (135, 0, 671, 508), quad box int (39, 11, 498, 469) -> size 459 x 458
@pytest.mark.parametrize("mode, cut_name, paste_box", [
    ("crop", "full_body_1_cropped_uint8", None),
    ("extcrop", "full_body_1_cropped_still_uint8", None),
    ("full", "full_body_1_cropped_uint8", Box(174, 11, 633, 469)),
    ("extfull", "full_body_1_cropped_still_uint8", Box(135, 0, 671, 508)),
])
@pytest.mark.parametrize("size", [256, 512])
def test_crop_modes(croper, full_body, mode, cut_name, paste_box, size):
    face = crop_face(full_body, mode, croper["full_body_1_lm68"], size=size)
    mode = PreprocessMode(mode)
    assert face.mode is mode and face.face_index == 0
    assert face.image.shape == (size, size, 3) and face.image.dtype == np.uint8
    np.testing.assert_array_equal(face.image, cv2.resize(croper[cut_name], (size, size)))
    assert face.original_size == (459, 458)  # the quad box's aspect, even for the ext modes (reference)
    assert mode.pastes_back == (paste_box is not None)
    assert (face.full_image is full_body) == mode.pastes_back  # kept, not copied, for the paste-back
    if paste_box is not None:
        assert face.info.paste_box(mode.extended) == paste_box


def test_resize_mode_squashes_the_whole_image_without_landmarks(full_body):
    face = crop_face(full_body, "resize", size=256)
    assert face.info is None and face.full_image is None and face.mode is PreprocessMode.RESIZE
    assert face.original_size == (800, 1200)
    np.testing.assert_array_equal(face.image, cv2.resize(full_body, (256, 256)))


@pytest.mark.parametrize("extended", [False, True])
def test_cut_round_trips_to_paste_box(croper, full_body, extended):
    """The cut is exactly the image under the paste box, so a hard paste of it changes nothing."""
    info = crop_geometry(croper["full_body_1_lm68"], (800, 1200))
    box = info.paste_box(extended)
    cut = info.cut(full_body, extended)
    assert cut.shape[:2] == (box.height, box.width)
    np.testing.assert_array_equal(full_body[box.y1:box.y2, box.x1:box.x2], cut)
    if not extended:
        assert (box.width, box.height) == info.size


def test_later_frames_get_the_first_frames_crop(croper, full_body):
    face = crop_face(full_body, "crop", croper["full_body_1_lm68"])
    shifted = np.roll(full_body, 7, axis=1)
    info = face.info
    expected = cv2.resize(info.cut(shifted, extended=False), (256, 256))
    np.testing.assert_array_equal(face.render_input(shifted), expected)


def test_bottom_is_clamped_with_the_width():
    """A tall image whose face quad reaches below ``width``: ``ry`` stops at the width (reference bug)."""
    info = crop_geometry(_landmarks(190.0, (30.0, 70.0, 150.0), (35.0, 65.0)), (100, 400))
    assert info.crop == Box(0, 58, 100, 250)
    lx, ly, rx, ry = info.quad
    assert (rx, ry) == (100.0, 100.0)
    assert ly == pytest.approx(16.5, abs=0.01)  # the quad bottom would be at ~176.5
    assert info.size == (100, 84)


def test_quad_box_may_reach_past_the_image():
    """Near the bottom edge the quad box keeps its size while the cut is clamped by slicing."""
    image = np.zeros((100, 400, 3), np.uint8)
    info = crop_geometry(_landmarks(95.0, (180.0, 220.0, 80.0), (185.0, 215.0)), (400, 100))
    box = info.paste_box(extended=False)
    assert box.y2 > 100
    assert info.cut(image, extended=False).shape[:2] == (100 - box.y1, box.width)
    assert info.size == (box.width, box.height)


def test_huge_face_shrinks_the_working_image():
    """qsize >= 2048 px: the geometry runs on an image shrunk by ``floor(qsize / 1024)``."""
    lm = _landmarks(800.0, (100.0, 1100.0, 500.0), (300.0, 900.0))  # eye distance 1000 -> qsize 4000
    info = crop_geometry(lm, (1200, 1200))
    assert info.rsize == (400, 400)  # shrink 3
    image = np.random.default_rng(0).integers(0, 256, (1200, 1200, 3), dtype=np.uint8)
    c = info.crop
    np.testing.assert_array_equal(info.cut(image, extended=True), cv2.resize(image, (400, 400))[c.y1:c.y2, c.x1:c.x2])
    assert info.paste_box(extended=True) == Box(3 * c.x1, 3 * c.y1, 3 * c.x2, 3 * c.y2)


def test_modes_flags():
    assert [m.value for m in PreprocessMode if m.extended] == ["extcrop", "extfull"]
    assert [m.value for m in PreprocessMode if m.pastes_back] == ["full", "extfull"]
    assert [m.value for m in PreprocessMode if not m.crops_face] == ["resize"]


def test_bad_inputs(full_body, croper):
    with pytest.raises(ValueError, match="needs the face's 68 landmarks"):
        crop_face(full_body, "full")
    with pytest.raises(ValueError, match="68"):
        crop_geometry(np.zeros((5, 2)), (800, 1200))
    with pytest.raises(ValueError, match="uint8 RGB"):
        crop_face(full_body.astype(np.float32), "resize")
    with pytest.raises(ValueError, match="'bogus' is not a valid PreprocessMode"):
        crop_face(full_body, "bogus")
    info = crop_geometry(croper["full_body_1_lm68"], (800, 1200))
    with pytest.raises(ValueError, match="crop was computed for 800x1200"):
        info.cut(full_body[:600], extended=True)


def test_face_crop_is_frozen(full_body):
    face = crop_face(full_body, "resize")
    assert isinstance(face, FaceCrop)
    with pytest.raises(AttributeError):
        face.mode = PreprocessMode.CROP
    info = CropInfo((1, 1), (1, 1), Box(0, 0, 1, 1), (0.0, 0.0, 1.0, 1.0))
    with pytest.raises(AttributeError):
        info.quad = (0.0, 0.0, 0.0, 0.0)
