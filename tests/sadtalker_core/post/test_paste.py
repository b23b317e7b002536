"""Paste-back: the official seamless clone against the goldens, and the feathered blend's guarantees."""
from __future__ import annotations

import itertools
import json

import cv2
import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from sadtalker_core.io.frame_size import pad_to_even
from sadtalker_core.post.paste import (
    FeatherPaste,
    FeatherShape,
    PasteMethod,
    SeamlessPaste,
    feather_weights,
    paste_frames,
    resize_frames,
    restore_aspect,
)
from sadtalker_core.source.crop import Box, FaceCrop, crop_face

QUAD_BOX = Box(174, 11, 633, 469)  # full_body_1 paste box of mode full (paste_pic golden)
CROP_SIZE = (459, 458)


@pytest.fixture(scope="module")
def full_bgr(media_dir) -> np.ndarray:
    return cv2.imread(str(media_dir / "full_body_1.png"))


@pytest.fixture(scope="module")
def landmarks(goldens_dir) -> np.ndarray:
    """full_body_1's 68 landmarks of the croper golden (its geometry is the paste_pic goldens' crop_info)."""
    return load_file(goldens_dir / "croper.safetensors")["full_body_1_lm68"].numpy()


def _face(full_bgr: np.ndarray, landmarks: np.ndarray, mode: str) -> FaceCrop:
    """The crop treats channels alike: a BGR picture keeps BGR as the full image, as paste_pic reads it."""
    return crop_face(full_bgr, mode, landmarks)


@pytest.fixture(scope="module")
def frames_rgb(goldens_dir) -> np.ndarray:
    """Two 256x256 rendered frames (make_animation golden), the paste_pic goldens' input."""
    return load_file(goldens_dir / "make_animation.safetensors")["frames_uint8"].numpy()[:2]


def _meta(path) -> dict:
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["meta"])


def _border_step(image: np.ndarray, box: Box) -> float:
    """Mean |difference| between the pixels just inside and just outside the box's four sides."""
    i = image.astype(np.int16)
    steps = [
        i[box.y1:box.y2, box.x1] - i[box.y1:box.y2, box.x1 - 1],
        i[box.y1:box.y2, box.x2 - 1] - i[box.y1:box.y2, box.x2],
        i[box.y1, box.x1:box.x2] - i[box.y1 - 1, box.x1:box.x2],
        i[box.y2 - 1, box.x1:box.x2] - i[box.y2, box.x1:box.x2],
    ]
    return float(np.mean(np.abs(np.concatenate([s.reshape(-1) for s in steps]))))


def _outside(image: np.ndarray, box: Box) -> np.ndarray:
    mask = np.ones(image.shape[:2], bool)
    mask[max(box.y1, 0):box.y2, max(box.x1, 0):box.x2] = False
    return image[mask]


@pytest.mark.parametrize("golden", ["paste_pic", "paste_pic_extfull"])
def test_seamless_reproduces_the_reference_frames(goldens_dir, full_bgr, landmarks, golden):
    """Landmarks -> crop -> paste of the golden's rendered frames: the reference's pixels within
    ±1 where the Poisson blend changed them (cv2.seamlessClone differs by 1 across CPUs), and the
    picture itself, exactly, everywhere else."""
    reference = load_file(goldens_dir / f"{golden}.safetensors")
    face = _face(full_bgr, landmarks, _meta(goldens_dir / f"{golden}.safetensors")["mode"])
    y0, y1, x0, x1 = reference["roi_yyxx"].tolist()
    bgr_frames = (np.ascontiguousarray(f[..., ::-1]) for f in reference["rendered_rgb_uint8"].numpy())
    outputs = list(paste_frames(bgr_frames, face, PasteMethod.SEAMLESS))
    assert len(outputs) == len(reference["out_roi_bgr"]) == 2
    for out, expected in zip(outputs, reference["out_roi_bgr"].numpy()):
        assert out.shape == full_bgr.shape and out.dtype == np.uint8
        assert np.abs(out[y0:y1, x0:x1].astype(np.int16) - expected).max() <= 1
        outside = out.copy()
        outside[y0:y1, x0:x1] = full_bgr[y0:y1, x0:x1]
        np.testing.assert_array_equal(outside, full_bgr)


def test_restore_aspect_is_the_reference_resize_and_idempotent(frames_rgb):
    once = restore_aspect(frames_rgb[0], CROP_SIZE)
    assert once.shape == (255, 256, 3) and isinstance(once, np.ndarray)  # int(256 * 458 / 459)
    np.testing.assert_array_equal(once, cv2.resize(frames_rgb[0], (256, 255)))
    np.testing.assert_array_equal(restore_aspect(once, CROP_SIZE), once)


def test_restore_aspect_of_a_tensor_batch_stays_a_tensor_and_resizes_each_frame(frames_rgb):
    batch = restore_aspect(torch.from_numpy(frames_rgb), (301, 333))
    assert isinstance(batch, torch.Tensor) and batch.shape == (2, 283, 256, 3) and batch.dtype == torch.uint8
    for frame, resized in zip(frames_rgb, batch.numpy()):
        np.testing.assert_array_equal(resized, cv2.resize(frame, (256, 283)))


@pytest.mark.parametrize("picture", ["full_body_1.png", "people_0.png", "art_0.png"])
def test_a_tensor_is_resized_as_opencv_resizes_bit_for_bit(media_dir, picture):
    """Down and up, odd and even sides, one side kept, exactly twice and half the size."""
    image = cv2.imread(str(media_dir / picture))
    for size in [(256, 255), (256, 257), (301, 333), (458, 459), (129, 301), (199, 203), (1001, 37),
                 (image.shape[1] * 2, image.shape[0] * 2), (image.shape[1] // 2, image.shape[0] // 2)]:
        resized = resize_frames(torch.from_numpy(image), size)
        assert isinstance(resized, torch.Tensor)
        np.testing.assert_array_equal(resized.numpy(), cv2.resize(image, size), err_msg=f"{picture} to {size}")


def _render(media_dir, size: int) -> np.ndarray:
    """A square stand-in render of ``size`` px: a photo of a face (smooth areas and sharp edges)."""
    return cv2.resize(cv2.imread(str(media_dir / "people_0.png")), (size, size), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("render_size", [256, 512])
@pytest.mark.parametrize("picture", ["full_body_1.png", "people_0.png", "art_0.png"])
def test_the_torch_chain_is_the_opencv_chain_within_one_level(media_dir, picture, render_size):
    """Aspect resize -> feather paste -> even padding, on the torch path (a tensor batch, as the
    pipeline hands it on) and on the OpenCV path (numpy frames one by one, as the Paste back node
    and the dub): at most one 8-bit level apart, for both feather shapes, boxes of odd and even
    sides, inside the picture and past its corner."""
    full = cv2.imread(str(media_dir / picture))
    height, width = full.shape[:2]
    render = _render(media_dir, render_size)
    cases = [(Box(width // 5, height // 7, width // 5 + 301, height // 7 + 333), (301, 333)),
             (Box(width // 3, height // 4, width // 3 + 458, height // 4 + 459), (459, 458)),
             (Box(width - 150, height - 170, width + 151, height + 131), (301, 301))]
    for (box, crop_size), shape in itertools.product(cases, FeatherShape):
        faces = restore_aspect(torch.from_numpy(np.stack([render, render[::-1].copy()])), crop_size)
        pasted = pad_to_even(FeatherPaste(full, box, 0.1, shape)(faces))
        assert isinstance(pasted, torch.Tensor) and pasted.shape == (2, height + height % 2, width + width % 2, 3)
        paste = FeatherPaste(full, box, 0.1, shape)
        for frame, out in zip([render, render[::-1].copy()], pasted.numpy()):
            expected = pad_to_even(paste(restore_aspect(frame, crop_size)))
            assert isinstance(expected, np.ndarray) and expected.shape == out.shape
            assert np.abs(out.astype(np.int16) - expected).max() <= 1, (picture, box, shape)


@pytest.mark.parametrize("shape", list(FeatherShape))
def test_feather_changes_only_the_box_and_leaves_no_seam(full_bgr, frames_rgb, shape):
    frame = frames_rgb[0]
    out = FeatherPaste(full_bgr, QUAD_BOX, feather=0.1, shape=shape)(frame)
    assert out.shape == full_bgr.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(_outside(out, QUAD_BOX), _outside(full_bgr, QUAD_BOX))

    hard = full_bgr.copy()
    hard[QUAD_BOX.y1:QUAD_BOX.y2, QUAD_BOX.x1:QUAD_BOX.x2] = cv2.resize(frame, (QUAD_BOX.width, QUAD_BOX.height))
    natural, hard_step, soft = (_border_step(img, QUAD_BOX) for img in (full_bgr, hard, out))
    assert hard_step > 10 * natural  # the fake render's colours differ a lot from the photo
    assert soft <= natural + 0.5  # the feathered border is as smooth as the photo itself

    centre = out[QUAD_BOX.center[1], QUAD_BOX.center[0]]
    patch = cv2.resize(frame, (QUAD_BOX.width, QUAD_BOX.height))
    np.testing.assert_array_equal(centre, patch[QUAD_BOX.height // 2, QUAD_BOX.width // 2])


def test_feather_weights_rise_smoothly_from_the_edge():
    w = feather_weights(200, 100, feather=0.1).numpy()  # band of 10 px
    assert w.shape == (100, 200) and w.dtype == np.float32
    assert w[0].max() < 0.01 and w[:, 0].max() < 0.01 and w[50, 100] == 1.0
    assert np.all(w[50, 10:190] == 1.0)
    assert np.abs(np.diff(w, axis=1)).max() <= 1.5 / 10 + 1e-6  # smoothstep slope <= 1.5 / band
    ellipse = feather_weights(200, 100, feather=0.1, shape=FeatherShape.ELLIPSE).numpy()
    assert ellipse[:10, :10].max() == 0.0 and ellipse[50, 100] == 1.0


@pytest.mark.parametrize("paste_class", [SeamlessPaste, FeatherPaste])
def test_box_past_the_image_is_clipped(full_bgr, frames_rgb, paste_class):
    """The quad box can reach past the right/bottom edge; the reference's seamlessClone raises there."""
    box = Box(600, 900, 900, 1250)
    paste = SeamlessPaste(full_bgr, box, (300, 350)) if paste_class is SeamlessPaste else FeatherPaste(full_bgr, box)
    out = paste(frames_rgb[0])
    assert out.shape == full_bgr.shape
    np.testing.assert_array_equal(_outside(out, box), _outside(full_bgr, box))
    assert not np.array_equal(out[900:1200, 600:800], full_bgr[900:1200, 600:800])


def test_seamless_changes_only_its_reported_region(full_bgr, frames_rgb):
    paste = SeamlessPaste(full_bgr, QUAD_BOX, CROP_SIZE)
    roi = paste.changed_region()
    assert roi == Box(175, 12, 632, 468)  # paste_pic golden roi_yyxx
    out = paste(frames_rgb[0])
    np.testing.assert_array_equal(_outside(out, roi), _outside(full_bgr, roi))


@pytest.mark.parametrize("method", list(PasteMethod))
def test_paste_frames_is_lazy(full_bgr, landmarks, frames_rgb, method):
    """One frame in, one frame out: an endless frame source works."""
    out = paste_frames(itertools.repeat(frames_rgb[1]), _face(full_bgr, landmarks, "full"), method)
    first, second = itertools.islice(out, 2)
    np.testing.assert_array_equal(first, second)


def test_bad_inputs(full_bgr, landmarks, frames_rgb):
    with pytest.raises(ValueError, match="outside"):
        FeatherPaste(full_bgr, Box(900, 0, 1000, 100))
    with pytest.raises(ValueError, match="frame must be"):
        SeamlessPaste(full_bgr, QUAD_BOX, CROP_SIZE)(frames_rgb[0].astype(np.float32))
    with pytest.raises(ValueError, match=r"frame must be \(\.\.\., H, W, 3\) uint8, got \(2, 10, 10, 3\) torch.float32"):
        FeatherPaste(full_bgr, QUAD_BOX)(torch.zeros(2, 10, 10, 3))
    with pytest.raises(ValueError, match="full image must be"):
        FeatherPaste(full_bgr[..., 0], QUAD_BOX)
    with pytest.raises(ValueError, match="'poisson' is not a valid PasteMethod"):
        paste_frames([frames_rgb[0]], _face(full_bgr, landmarks, "extfull"), "poisson")
    with pytest.raises(ValueError, match="'extcrop' does not paste back"):
        paste_frames([frames_rgb[0]], _face(full_bgr, landmarks, "extcrop"), PasteMethod.FEATHER)
