"""5-point alignment: standard landmarks, 68 -> 5 reduction, the similarity fit and the crop."""
from __future__ import annotations

import numpy as np
import pytest
from paths import LM3D_MAT
from PIL import Image
from scipy.io import loadmat

from sadtalker_core.source.align import (
    LM3D_STD,
    AlignedFace,
    align_face,
    align_img,
    extract_5p,
    fit_pos,
    flip_y,
    standard_landmarks,
)


def test_standard_landmarks_equal_the_official_mat():
    lm68 = loadmat(LM3D_MAT)["lm"]
    # load_lm3d: nose 30, eye corners 36/39 and 42/45 averaged, mouth corners 48/54; eyes first
    expected = np.stack([
        lm68[[36, 39]].mean(0), lm68[[42, 45]].mean(0), lm68[30], lm68[48], lm68[54],
    ])
    assert LM3D_STD.shape == (5, 3) and LM3D_STD.dtype == lm68.dtype
    assert np.array_equal(LM3D_STD, expected)


def test_extract_5p_picks_official_points():
    lm68 = np.arange(136, dtype=np.float64).reshape(68, 2)
    lm5 = extract_5p(lm68)
    assert np.array_equal(lm5, np.stack([
        (lm68[36] + lm68[39]) / 2, (lm68[42] + lm68[45]) / 2, lm68[30], lm68[48], lm68[54],
    ]))
    with pytest.raises(ValueError, match="68"):
        extract_5p(lm68[:5])


def test_fit_pos_recovers_a_known_projection():
    angle = 0.3
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0]])
    lm2d = 80.0 * LM3D_STD.astype(np.float64) @ rotation.T + np.array([120.0, 140.0])
    t, scale = fit_pos(lm2d, LM3D_STD)
    np.testing.assert_allclose(t, [120.0, 140.0], atol=1e-9)
    assert scale == pytest.approx(80.0, abs=1e-9)


def test_flip_y_and_standard_landmarks():
    lm = np.array([[10.0, 0.0], [20.0, 255.0]])
    assert flip_y(lm, 256).tolist() == [[10.0, 255.0], [20.0, 0.0]]
    assert lm.tolist() == [[10.0, 0.0], [20.0, 255.0]]  # input untouched
    std = standard_landmarks(200, 100)
    np.testing.assert_allclose(std, (LM3D_STD[:, :2] + 1) / 2 * [200, 100], rtol=1e-6)


def _dot_image(points: np.ndarray, size: int = 256) -> np.ndarray:
    image = np.zeros((size, size, 3), np.uint8)
    for x, y in points.round().astype(int):
        image[y - 1:y + 2, x - 1:x + 2] = 255
    return image


def test_crop_and_moved_landmarks_agree():
    """A dot drawn at each landmark ends up where lm_new says (lm_new's y points up)."""
    points = np.array([[100.0, 90.0], [150.0, 88.0], [126.0, 120.0], [108.0, 150.0], [146.0, 151.0]])
    face = align_face(_dot_image(points), points)
    assert face.image.shape == (224, 224, 3) and face.image.dtype == np.uint8
    for x, y_up in face.landmarks:
        row, col = int(round(223 - y_up)), int(round(x))
        window = face.image[row - 3:row + 4, col - 3:col + 4, 0]
        assert window.max() > 128, (x, y_up)


def test_align_face_flips_and_accepts_pil_and_68_points():
    points5 = np.array([[100.0, 90.0], [150.0, 88.0], [126.0, 120.0], [108.0, 150.0], [146.0, 151.0]])
    lm68 = np.repeat(points5[2:3], 68, axis=0)
    lm68[[36, 39]] = points5[0]
    lm68[[42, 45]] = points5[1]
    lm68[48], lm68[54] = points5[3], points5[4]
    frame = _dot_image(points5)
    by5 = align_face(frame, points5)
    by68 = align_face(frame, lm68)
    direct = align_img(Image.fromarray(frame), flip_y(points5, 256))
    assert by68.trans_params == by5.trans_params == direct.trans_params
    assert np.array_equal(by68.image, by5.image) and np.array_equal(direct.image, by5.image)
    assert by68.landmarks.shape == (68, 2)
    np.testing.assert_allclose(by68.landmarks[[30, 48, 54]], by5.landmarks[2:], atol=1e-9)


@pytest.mark.parametrize("marker", [None, -np.ones((68, 2))], ids=["none", "minus-one"])
def test_no_face_falls_back_to_standard_landmarks(marker):
    frame = np.zeros((256, 256, 3), np.uint8)
    face = align_face(frame, marker)
    expected = align_img(frame, standard_landmarks(256, 256))
    assert isinstance(face, AlignedFace) and face.trans_params == expected.trans_params
    assert face.trans_params.as_array().dtype == np.float32


@pytest.mark.parametrize(
    "frame",
    [np.zeros((256, 256), np.uint8), np.zeros((256, 256, 4), np.uint8), np.zeros((256, 256, 3), np.float32)],
    ids=["gray", "rgba", "float"],
)
def test_wrong_frames_are_refused(frame):
    with pytest.raises(ValueError, match=r"RGB uint8"):
        align_face(frame, None)


def test_wrong_landmark_shapes_are_refused():
    with pytest.raises(ValueError, match="landmarks"):
        align_img(np.zeros((256, 256, 3), np.uint8), np.zeros((7, 2)))
