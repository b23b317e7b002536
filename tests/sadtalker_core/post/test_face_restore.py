"""The official face enhancement of whole frames, compared with facexlib 0.3.0's FaceRestoreHelper
(the test-only reference) driven as gfpgan 1.3.8's ``GFPGANer.enhance`` drives it, on real pictures
with one and with two faces: fake RetinaFace and ParseNet weights, a fixed-conv stand-in restorer.

The fake RetinaFace finds "faces" anywhere, so where the parser runs (its 512 px pass costs many
seconds on a CPU) both sides get the same few detections of our detector; the default path, with
every detection of each side's own RetinaFace, is compared without the parser.
"""
from __future__ import annotations

from collections import OrderedDict
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from facexlib.detection.retinaface import RetinaFace as FacexlibRetinaFace
from facexlib.parsing.parsenet import ParseNet as FacexlibParseNet
from facexlib.utils import face_restoration_helper
from facexlib.utils.misc import img2tensor
from spandrel.architectures.Compact import Compact
from torch import nn
from torchvision.transforms.functional import normalize

from sadtalker_core.errors import EnhancerError, InputError
from sadtalker_core.networks.parsenet import load_parsenet
from sadtalker_core.networks.retinaface import load_retinaface
from sadtalker_core.post import face_restore
from sadtalker_core.post.enhance import FaceArchitecture, FaceEnhancer
from sadtalker_core.post.face_restore import (
    FaceRestorer,
    align_face,
    detections,
    find_faces,
    load_face_restorer,
    restore_face,
)
from sadtalker_core.post.upsample import BackgroundUpsampler

UPSCALE = 2


# ---------------------------------------------------------------- the reference, as GFPGANer runs it

def facexlib_detector(path: Path) -> FacexlibRetinaFace:
    """facexlib's RetinaFace as ``init_detection_model('retinaface_resnet50')`` loads it."""
    net = FacexlibRetinaFace(network_name="resnet50", half=False, device=torch.device("cpu"))
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(OrderedDict((k.removeprefix("module."), v) for k, v in state.items()), strict=True)
    return net.eval()


def facexlib_parser(path: Path) -> FacexlibParseNet:
    net = FacexlibParseNet(in_size=512, out_size=512, parsing_ch=19)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return net.eval()


class GivenDetections:
    """Stands in for the helper's detector: the rows it is given, whatever the picture."""

    def __init__(self, dets: np.ndarray):
        self.dets = dets

    def detect_faces(self, image, conf_threshold):
        return self.dets.copy()


class RecordingCv2:
    """facexlib's ``cv2`` with ``warpAffine`` calls of the parse mask (``flags=3``) recorded: the
    soft mask facexlib pastes through, before it is warped into the frame."""

    def __init__(self):
        self.masks: list[np.ndarray] = []

    def __getattr__(self, name):
        return getattr(cv2, name)

    def warpAffine(self, src, *args, **kwargs):
        if kwargs.get("flags") == 3:
            self.masks.append(src.copy())
        return cv2.warpAffine(src, *args, **kwargs)


def tensor2img(tensor: torch.Tensor) -> np.ndarray:
    """basicsr 1.4.2 ``tensor2img(t, rgb2bgr=True, min_max=(-1, 1))`` of one (3, H, W) RGB tensor."""
    image = ((tensor.float().cpu().clamp_(-1, 1) + 1) / 2).numpy().transpose(1, 2, 0)
    return (cv2.cvtColor(image, cv2.COLOR_RGB2BGR) * 255.0).round().astype(np.uint8)


def gfpganer_enhance(helper, frame: np.ndarray, restorer: nn.Module, background: np.ndarray | None = None):
    """SadTalker's ``face_enhancer`` on one RGB frame: to BGR, ``GFPGANer.enhance(img,
    has_aligned=False, only_center_face=False, paste_back=True)`` step by step, back to RGB."""
    image = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    helper.clean_all()
    helper.read_image(image)
    helper.get_face_landmarks_5(only_center_face=False, eye_dist_threshold=5)
    helper.align_warp_face()
    with torch.no_grad():
        for cropped in helper.cropped_faces:
            face = img2tensor(cropped / 255.0, bgr2rgb=True, float32=True)
            normalize(face, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), inplace=True)
            helper.add_restored_face(tensor2img(restorer(face.unsqueeze(0))[0]).astype("uint8"))
    helper.get_inverse_affine(None)
    upsampled = None if background is None else cv2.cvtColor(background, cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(helper.paste_faces_to_input_image(upsample_img=upsampled), cv2.COLOR_BGR2RGB)


def facexlib_helper(detector, parser, use_parse: bool):
    """``FaceRestoreHelper`` as GFPGANer builds it, with these networks in place of downloaded ones."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(face_restoration_helper, "init_detection_model", lambda *args, **kwargs: detector)
        patch.setattr(face_restoration_helper, "init_parsing_model", lambda *args, **kwargs: parser)
        return face_restoration_helper.FaceRestoreHelper(
            UPSCALE, face_size=512, crop_ratio=(1, 1), det_model="retinaface_resnet50", save_ext="png",
            use_parse=use_parse, device=torch.device("cpu"))


# ---------------------------------------------------------------- fixtures

def stand_in_restorer() -> nn.Conv2d:
    """A fixed 3x3 conv: mostly the face, its channels mixed a little, a slight blur and a shift."""
    conv = nn.Conv2d(3, 3, 3, padding=1)
    rng = np.random.default_rng(18)
    weight = 0.04 * rng.standard_normal((3, 3, 3, 3)) + 0.02
    weight[range(3), range(3), 1, 1] += 0.7
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(weight))
        conv.bias.copy_(torch.tensor([0.05, -0.03, 0.02]))
    return conv.eval().requires_grad_(False)


def stand_in_enhancer(restorer: nn.Module) -> FaceEnhancer:
    return FaceEnhancer(Path("stand_in.pth"), FaceArchitecture("StandIn", 512, lambda model, x, fidelity: model(x)),
                        restorer)


@pytest.fixture(scope="module")
def restorer() -> nn.Conv2d:
    return stand_in_restorer()


@pytest.fixture(scope="module")
def detection_file(fake_checkpoints) -> Path:
    return fake_checkpoints.path("detection_Resnet50_Final.pth")


@pytest.fixture(scope="module")
def parser_file(fake_checkpoints) -> Path:
    return fake_checkpoints.path("parsing_parsenet.pth")


@pytest.fixture(scope="module")
def retinaface(detection_file):
    return load_retinaface(detection_file)


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def one_face(media_dir) -> np.ndarray:
    return read_rgb(media_dir / "people_0.png")


@pytest.fixture(scope="module")
def two_faces(media_dir, one_face) -> np.ndarray:
    """Two portraits side by side: people_0 (474 x 474) and art_0 scaled to the same height."""
    art = read_rgb(media_dir / "art_0.png")
    height = one_face.shape[0]
    art = cv2.resize(art, (round(art.shape[1] * height / art.shape[0]), height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.concatenate([one_face, art], axis=1))


def best_per_part(dets: np.ndarray, splits: list[int]) -> np.ndarray:
    """The best-scoring detection whose box centre lies in each vertical band [splits[i], splits[i+1])."""
    centers = (dets[:, 0] + dets[:, 2]) / 2
    rows = [next(i for i in range(len(dets)) if lo <= centers[i] < hi) for lo, hi in pairwise(splits)]
    return dets[rows]


# ---------------------------------------------------------------- the tests

@pytest.mark.parametrize("picture", ["one_face", "two_faces"])
def test_with_the_parser_matrices_faces_masks_and_frames_are_facexlibs(picture, request, retinaface, parser_file,
                                                                       restorer, monkeypatch):
    frame = request.getfixturevalue(picture)
    dets = retinaface.detect(np.ascontiguousarray(frame[..., ::-1]))
    splits = [0, frame.shape[1]] if picture == "one_face" else [0, 474, frame.shape[1]]
    chosen = best_per_part(dets, splits)
    faces = detections(chosen)
    assert len(faces) == len(splits) - 1

    # ours, recording the masks it pastes through
    ours_masks: list[np.ndarray] = []
    real_parse_mask = face_restore.parse_mask

    def recording_parse_mask(parser, face):
        ours_masks.append(real_parse_mask(parser, face))
        return ours_masks[-1]

    monkeypatch.setattr(face_restore, "parse_mask", recording_parse_mask)
    enhancer = stand_in_enhancer(restorer)
    restorer_ours = FaceRestorer(retinaface, enhancer, load_parsenet(parser_file))
    result = restorer_ours.restore(frame, faces)

    # facexlib, recording the same
    helper = facexlib_helper(GivenDetections(chosen), facexlib_parser(parser_file), use_parse=True)
    spy = RecordingCv2()
    monkeypatch.setattr(face_restoration_helper, "cv2", spy)
    reference = gfpganer_enhance(helper, frame, restorer)

    assert result.shape == reference.shape == (UPSCALE * frame.shape[0], UPSCALE * frame.shape[1], 3)
    assert len(helper.affine_matrices) == len(faces) == len(ours_masks) == len(spy.masks)
    for k, face in enumerate(faces):
        aligned = align_face(frame, face)
        np.testing.assert_allclose(aligned.affine, helper.affine_matrices[k], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(aligned.face / 255.0, helper.cropped_faces[k][..., ::-1] / 255.0, atol=1e-4)
        restored = restore_face(enhancer, aligned, UPSCALE)
        np.testing.assert_array_equal(restored.face, helper.restored_faces[k][..., ::-1])
        np.testing.assert_allclose(restored.inverse_affine, helper.inverse_affine_matrices[k], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(ours_masks[k], spy.masks[k], rtol=0, atol=1e-9)
        assert 0.05 < ours_masks[k].mean() < 0.95  # the fake parser calls part of the face face, part not
    assert np.abs(result.astype(int) - reference).max() <= 1
    assert np.mean(result == reference) > 0.999
    lanczos = cv2.resize(frame, result.shape[1::-1], interpolation=cv2.INTER_LANCZOS4)
    assert np.abs(result.astype(int) - lanczos).max() > 20  # faces were pasted in


def test_default_path_without_the_parser_is_facexlibs_square_mask_rule(two_faces, retinaface, detection_file,
                                                                       restorer):
    """Every face each side's own RetinaFace finds, facexlib's no-parse mask, a background upsampler."""
    frame = two_faces
    torch.manual_seed(5)
    background = BackgroundUpsampler(Path("2x_compact.pth"), Compact(num_feat=8, num_conv=2, upscale=2).eval(), 2)
    with pytest.warns(UserWarning, match="no face parser"):
        restorer_ours = FaceRestorer(retinaface, stand_in_enhancer(restorer), None, background)
    result = restorer_ours.restore(frame)

    helper = facexlib_helper(facexlib_detector(detection_file), None, use_parse=False)
    reference = gfpganer_enhance(helper, frame, restorer, background.upsample(frame))

    faces = find_faces(retinaface, frame)
    assert len(faces) == len(helper.det_faces) >= 4
    for k, face in enumerate(faces):
        np.testing.assert_allclose(face.box, helper.det_faces[k][:4], rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(face.landmarks, helper.all_landmarks_5[k], rtol=1e-5, atol=1e-3)
        aligned = align_face(frame, face)
        np.testing.assert_allclose(aligned.affine, helper.affine_matrices[k], rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(aligned.face / 255.0, helper.cropped_faces[k][..., ::-1] / 255.0, atol=1e-4)
    assert result.shape == reference.shape == (2 * frame.shape[0], 2 * frame.shape[1], 3)
    assert np.abs(result.astype(int) - reference).max() <= 1
    assert np.mean(result == reference) > 0.999


def test_faces_closer_than_5_px_between_the_eyes_are_skipped():
    row = np.zeros(15, np.float32)
    row[:5] = (10, 10, 60, 60, 0.99)
    near, far = row.copy(), row.copy()
    near[5:15] = (20, 30, 24.9, 30, 35, 40, 25, 50, 35, 50)
    far[5:15] = (20, 30, 25, 30, 35, 40, 25, 50, 35, 50)
    kept = detections(np.stack([near, far]))
    assert len(kept) == 1 and kept[0].eye_distance == 5.0
    np.testing.assert_array_equal(kept[0].landmarks, far[5:15].reshape(5, 2))


def test_without_faces_the_frame_is_upscaled_with_lanczos(one_face, retinaface, restorer):
    with pytest.warns(UserWarning):
        plain = FaceRestorer(retinaface, stand_in_enhancer(restorer), None, upscale=3)
    frame = one_face[:50, :70]
    np.testing.assert_array_equal(plain.restore(frame, faces=[]),
                                  cv2.resize(frame, (210, 150), interpolation=cv2.INTER_LANCZOS4))


def test_strength_0_pastes_the_aligned_face_itself(one_face, retinaface, restorer):
    face = detections(retinaface.detect(np.ascontiguousarray(one_face[..., ::-1]))[:1])[0]
    aligned = align_face(one_face, face)
    restored = restore_face(stand_in_enhancer(restorer), aligned, UPSCALE, strength=0.0)
    np.testing.assert_array_equal(restored.face, aligned.face)
    assert np.abs(restore_face(stand_in_enhancer(restorer), aligned, UPSCALE).face.astype(int) - aligned.face).max() > 10


def test_bad_frames_and_settings_are_refused(retinaface, restorer):
    enhancer = stand_in_enhancer(restorer)
    with pytest.warns(UserWarning):
        restorer_ours = FaceRestorer(retinaface, enhancer, None)
    with pytest.raises(InputError, match=r"\(H, W, 3\) uint8 RGB picture, got a float32 array"):
        restorer_ours.restore(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(InputError, match="got a uint8 array of shape \\(8, 8\\)"):
        restorer_ours.restore(np.zeros((8, 8), np.uint8))
    with pytest.raises(InputError, match="upscale must be a whole number >= 1"):
        FaceRestorer(retinaface, enhancer, None, upscale=0)
    with pytest.raises(InputError, match="strength must be between 0 and 1"):
        FaceRestorer(retinaface, enhancer, None, strength=1.5)


def test_the_restorer_finds_its_detector_and_parser_in_the_folders_given(detection_file, parser_file, restorer,
                                                                          tmp_path):
    enhancer = stand_in_enhancer(restorer)
    with pytest.raises(EnhancerError, match=r"detection_Resnet50_Final.pth, not in .*; download it .*"
                                            r"parsing_parsenet.pth\) or use enhance mode 'crop'"):
        load_face_restorer(enhancer, [tmp_path])
    with_parser = load_face_restorer(enhancer, [tmp_path, detection_file.parent], upscale=3, strength=0.5)
    assert with_parser.parser is not None and (with_parser.upscale, with_parser.strength) == (3, 0.5)
    (tmp_path / "detection_Resnet50_Final.pth").symlink_to(detection_file)
    with pytest.warns(UserWarning, match="no face parser"):
        assert load_face_restorer(enhancer, [tmp_path]).parser is None
