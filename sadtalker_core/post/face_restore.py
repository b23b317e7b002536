"""Face enhancement of whole frames as the official ``--enhancer`` does it: gfpgan 1.3.8's
``GFPGANer(upscale=2).enhance`` with facexlib 0.3.0's ``FaceRestoreHelper(face_size=512,
crop_ratio=(1, 1), det_model='retinaface_resnet50', use_parse=True)``, every face.

For each frame:

1. RetinaFace-ResNet50 finds the faces (score > 0.97, NMS 0.4, the frame handed over as BGR, as
   SadTalker's ``face_enhancer`` converts it); faces whose eyes are under 5 px apart are skipped
   (GFPGANer's ``eye_dist_threshold``).
2. Each face's 5 landmarks give a similarity transform onto the FFHQ 512 template
   (``cv2.estimateAffinePartial2D``, LMEDS); the face is warped to 512 x 512 (bilinear, grey
   border).
3. The restorer (:class:`~sadtalker_core.post.enhance.FaceEnhancer`) runs on the aligned face;
   the result is rounded to 8 bits.
4. The frame is upscaled (Lanczos-4, or the background upsampler); each restored face is warped
   back, with facexlib's half-pixel offset, and blended in through a soft mask: ParseNet's face
   classes blurred twice (Gaussian 101 px, sigma 11) with a 10 px border cut away; without the
   parser, facexlib's square rule (the warped face square eroded, then blurred by its size).
   The blend is facexlib's arithmetic: float64 (float32 without the parser), cut to 8 bits.

The output frames are ``upscale`` times larger (2, as official).  Every geometric step is the
OpenCV call facexlib makes, with its arguments, so matrices and pixels are facexlib's.  Frames are
RGB here; OpenCV treats channels alike, so only the border colour and the detector's input are
given in BGR where facexlib sees BGR.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import EnhancerError, InputError
from ..networks.parsenet import ParseNet, load_parsenet
from ..networks.retinaface import NMS_IOU_THRESHOLD, SADTALKER_SCORE_THRESHOLD, RetinaFace, load_retinaface
from ..official_files import DETECTOR_FILES, PARSER_FILE
from ..precision import float32_arithmetic
from .enhance import FaceEnhancer
from .upsample import BackgroundUpsampler

#: facexlib's 5 points of an FFHQ-aligned 512 px face: eyes, nose tip, mouth corners (x, y)
FFHQ_POINTS_512 = np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
                            [201.26117, 371.41043], [313.08905, 371.15118]])
ALIGNED_SIZE = 512
#: facexlib's grey outside the frame, (135, 133, 132) in its BGR order
BORDER_RGB = (132, 133, 135)
#: GFPGANer skips faces whose eyes are closer than this (pixels): side views, tiny faces
MIN_EYE_DISTANCE = 5.0
#: the official ``--upscale`` of the enhanced video (GFPGANer(upscale=2))
OFFICIAL_UPSCALE = 2


class EnhanceMode(str, Enum):
    """Where the face enhancer runs.  ``official``: :class:`FaceRestorer` on the finished frames
    (after paste-back), every face aligned, restored and pasted into a frame ``upscale`` times
    larger, as the official ``--enhancer``; ``crop``: :class:`~sadtalker_core.post.enhance.FaceEnhancer`
    on the rendered face crop, resized to the network's input, before paste-back, at the crop's size
    (faster, not the official pictures)."""

    OFFICIAL = "official"
    CROP = "crop"


#: ParseNet classes (CelebAMask-HQ order) that are not pasted: background, neck, cloth, hair, hat
NOT_FACE_CLASSES = (0, 14, 16, 17, 18)
_MASK_BLUR = ((101, 101), 11)
_MASK_BORDER = 10


@dataclass(frozen=True)
class FaceDetection:
    """One face RetinaFace found: ``box`` (4,) x1 y1 x2 y2 and ``landmarks`` (5, 2) (eyes, nose,
    mouth corners), float32 frame pixels, as the detector gives them."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.landmarks[0] - self.landmarks[1]))


@dataclass(frozen=True)
class AlignedFace:
    """A face warped onto the FFHQ template: ``affine`` (2, 3) float64 maps frame pixels to
    ``face`` (512, 512, 3) uint8 RGB."""

    detection: FaceDetection
    affine: np.ndarray
    face: np.ndarray


@dataclass(frozen=True)
class RestoredFace:
    """A restored aligned face, ``face`` (512, 512, 3) uint8 RGB, and ``inverse_affine`` (2, 3)
    mapping its pixels into the upscaled frame (facexlib's half-pixel offset included)."""

    aligned: AlignedFace
    face: np.ndarray
    inverse_affine: np.ndarray


def detections(dets: np.ndarray) -> list[FaceDetection]:
    """RetinaFace's (K, 15) rows as :class:`FaceDetection`, in their order, without the faces whose
    eyes are under :data:`MIN_EYE_DISTANCE` apart."""
    faces = [FaceDetection(det[:4].copy(), float(det[4]), det[5:15].reshape(5, 2).copy()) for det in dets]
    return [face for face in faces if face.eye_distance >= MIN_EYE_DISTANCE]


def find_faces(detector: RetinaFace, frame: np.ndarray) -> list[FaceDetection]:
    """Every face of an RGB uint8 frame, best score first, as GFPGANer's helper finds them
    (RetinaFace on the frame's BGR channels)."""
    dets = detector.detect(np.ascontiguousarray(frame[..., ::-1]), SADTALKER_SCORE_THRESHOLD, NMS_IOU_THRESHOLD)
    return detections(dets)


def align_face(frame: np.ndarray, detection: FaceDetection) -> AlignedFace:
    """The face warped onto :data:`FFHQ_POINTS_512` by the similarity transform LMEDS fits to its
    landmarks (facexlib's ``align_warp_face``)."""
    affine = cv2.estimateAffinePartial2D(detection.landmarks, FFHQ_POINTS_512, method=cv2.LMEDS)[0]
    if affine is None:
        raise InputError(f"the face at {detection.box.tolist()} has landmarks no similarity transform fits")
    face = cv2.warpAffine(frame, affine, (ALIGNED_SIZE, ALIGNED_SIZE), borderMode=cv2.BORDER_CONSTANT,
                          borderValue=BORDER_RGB)
    return AlignedFace(detection, affine, face)


def inverse_affine(affine: np.ndarray, upscale: int) -> np.ndarray:
    """Aligned-face pixels -> upscaled frame pixels: the inverse of ``affine`` times ``upscale``,
    shifted by half an input pixel (``0.5 * upscale``) when upscaling, as facexlib pastes."""
    inverse = cv2.invertAffineTransform(affine) * upscale
    if upscale > 1:
        inverse[:, 2] += 0.5 * upscale
    return inverse


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) float in [0, 1] -> (N, H, W, 3) uint8, rounded (basicsr's ``tensor2img``)."""
    return (images.float() * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def restore_face(enhancer: FaceEnhancer, aligned: AlignedFace, upscale: int, strength: float = 1.0) -> RestoredFace:
    """The restorer on one aligned face, its output rounded to 8 bits as GFPGANer's is."""
    device = next(enhancer.model.parameters()).device
    face = torch.from_numpy(aligned.face).to(device).permute(2, 0, 1).unsqueeze(0).float() / 255.0
    restored = _to_uint8(enhancer.enhance(face, strength))[0]
    return RestoredFace(aligned, restored, inverse_affine(aligned.affine, upscale))


@torch.inference_mode()
@float32_arithmetic()
def parse_mask(parser: ParseNet, face: np.ndarray) -> np.ndarray:
    """facexlib's soft paste mask of a restored 512 px face: (512, 512) float64 in [0, 1], 1 on the
    classes ParseNet calls face, blurred twice, 0 within :data:`_MASK_BORDER` px of the edge."""
    if face.shape != (ALIGNED_SIZE, ALIGNED_SIZE, 3):
        raise ValueError(f"the face parser takes {ALIGNED_SIZE} px aligned faces, got shape {face.shape}")
    parameter = next(parser.parameters())
    pixels = torch.from_numpy(face).to(parameter.device).permute(2, 0, 1).unsqueeze(0).float() / 255.0
    labels = parser((pixels * 2 - 1).to(parameter.dtype)).logits.argmax(dim=1)[0].cpu().numpy()
    mask = np.where(np.isin(labels, NOT_FACE_CLASSES), 0.0, 255.0)
    for _ in range(2):
        mask = cv2.GaussianBlur(mask, *_MASK_BLUR)
    edge = _MASK_BORDER
    mask[:edge], mask[-edge:], mask[:, :edge], mask[:, -edge:] = 0, 0, 0, 0
    return mask / 255.0


def square_mask(inverse: np.ndarray, size: tuple[int, int], upscale: int) -> tuple[np.ndarray, np.ndarray]:
    """facexlib's mask without the parser, for a face pasted with ``inverse`` into a frame of
    ``size`` (width, height): (weight of the restored pixels, soft mask), float32 (H, W).

    The aligned square warped into the frame, eroded by ``2 * upscale`` px (the weight), eroded
    again and Gaussian-blurred by a twentieth of the face's side (the soft mask)."""
    warped = cv2.warpAffine(np.ones((ALIGNED_SIZE, ALIGNED_SIZE), np.float32), inverse, size)
    weight = cv2.erode(warped, np.ones((2 * upscale, 2 * upscale), np.uint8))
    edge = int(np.sum(weight) ** 0.5) // 20
    core = cv2.erode(weight, np.ones((edge * 2, edge * 2), np.uint8))
    return weight, cv2.GaussianBlur(core, (edge * 2 + 1, edge * 2 + 1), 0)


def paste_faces(frame: np.ndarray, faces: Sequence[RestoredFace], upscale: int, parser: ParseNet | None,
                background: np.ndarray | None = None) -> np.ndarray:
    """The frame upscaled ``upscale`` times with the restored faces blended in, one after the other
    (facexlib's ``paste_faces_to_input_image``).  ``background``: the upsampler's picture of the
    frame (resized to the output size when it is not), else the frame resized with Lanczos-4."""
    height, width = frame.shape[0] * upscale, frame.shape[1] * upscale
    canvas = cv2.resize(frame if background is None else background, (width, height), interpolation=cv2.INTER_LANCZOS4)
    for face in faces:
        restored = cv2.warpAffine(face.face, face.inverse_affine, (width, height))
        if parser is not None:
            # facexlib asks warpAffine for INTER_AREA here, which warpAffine does as INTER_LINEAR
            soft = cv2.warpAffine(parse_mask(parser, face.face), face.inverse_affine, (width, height),
                                  flags=cv2.INTER_LINEAR)[:, :, None]
            pasted = restored
        else:
            weight, soft = square_mask(face.inverse_affine, (width, height), upscale)
            soft, pasted = soft[:, :, None], weight[:, :, None] * restored
        canvas = soft * pasted + (1 - soft) * canvas
    return canvas.astype(np.uint8)


def _check_frame(frame: np.ndarray) -> np.ndarray:
    if isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    desc = f"{frame.dtype} array of shape {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
    raise InputError(f"a frame to enhance must be an (H, W, 3) uint8 RGB picture, got a {desc}")


@dataclass(frozen=True)
class FaceRestorer:
    """The official enhancement of whole frames: RetinaFace ``detector``, restorer ``enhancer``,
    ``parser`` (None: facexlib's square mask, with a warning), optional ``background`` upsampler,
    output ``upscale`` times the input; ``strength`` blends the restored face with the aligned one
    (1: the restored face only, as official)."""

    detector: RetinaFace
    enhancer: FaceEnhancer
    parser: ParseNet | None
    background: BackgroundUpsampler | None = None
    upscale: int = 2
    strength: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.upscale, int) or self.upscale < 1:
            raise InputError(f"upscale must be a whole number >= 1, got {self.upscale!r}")
        if not 0.0 <= self.strength <= 1.0:
            raise InputError(f"strength must be between 0 and 1, got {self.strength}")
        if self.parser is None:
            warnings.warn("no face parser (parsing_parsenet.pth): faces are pasted through facexlib's square "
                          "mask, whose edges can show; download parsing_parsenet.pth for the official mask",
                          stacklevel=3)

    def restore(self, frame: np.ndarray, faces: Sequence[FaceDetection] | None = None) -> np.ndarray:
        """One RGB uint8 frame -> the enhanced frame, ``upscale`` times larger.  ``faces``: the
        detections to restore (default: every face :func:`find_faces` finds)."""
        frame = _check_frame(frame)
        if faces is None:
            faces = find_faces(self.detector, frame)
        restored = [restore_face(self.enhancer, align_face(frame, face), self.upscale, self.strength) for face in faces]
        background = None if self.background is None else self.background.upsample(frame)
        return paste_faces(frame, restored, self.upscale, self.parser, background)

    def restore_frames(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """:meth:`restore` of each frame, one by one."""
        return (self.restore(frame) for frame in frames)


def _first_file(name: str, folders: Sequence[str | os.PathLike]) -> Path | None:
    return next((Path(folder) / name for folder in folders if (Path(folder) / name).is_file()), None)


@dataclass(frozen=True)
class RestorerNetworks:
    """The official enhancement's networks besides the restorer: RetinaFace and the face parser
    (None: no ``parsing_parsenet.pth``), loaded once and shared by every :class:`FaceRestorer`."""

    detector: RetinaFace
    parser: ParseNet | None

    def networks(self) -> dict[str, torch.nn.Module]:
        """The loaded networks by name (for a model manager)."""
        return {"retinaface": self.detector, **({} if self.parser is None else {"parsenet": self.parser})}


def restorer_files(folders: Sequence[str | os.PathLike]) -> tuple[Path, Path | None]:
    """``detection_Resnet50_Final.pth`` and ``parsing_parsenet.pth`` (None when absent) from the
    first of ``folders`` holding each; no detector file: :class:`EnhancerError`."""
    detection = _first_file(DETECTOR_FILES[0], folders)
    if detection is None:
        raise EnhancerError(
            f"the official face enhancement finds faces with {DETECTOR_FILES[0]}, not in "
            f"{' or '.join(str(f) for f in folders)}; download it (python -m sadtalker_core download FOLDER --only "
            f"{DETECTOR_FILES[0]} {PARSER_FILE}) or use enhance mode 'crop'")
    return detection, _first_file(PARSER_FILE, folders)


def load_restorer_networks(detection: str | os.PathLike, parser: str | os.PathLike | None,
                           device: torch.device | str = "cpu") -> RestorerNetworks:
    """RetinaFace from ``detection`` and the parser from ``parser`` (None: none), on ``device``."""
    return RestorerNetworks(load_retinaface(detection, device), None if parser is None else load_parsenet(parser, device))


def load_face_restorer(enhancer: FaceEnhancer, folders: Sequence[str | os.PathLike],
                       device: torch.device | str = "cpu", background: BackgroundUpsampler | None = None,
                       upscale: int = OFFICIAL_UPSCALE, strength: float = 1.0) -> FaceRestorer:
    """A :class:`FaceRestorer` around a loaded ``enhancer``, its other networks from ``folders``
    (:func:`restorer_files`).  No parser: facexlib's square mask, with a warning."""
    networks = load_restorer_networks(*restorer_files(folders), device)
    return FaceRestorer(networks.detector, enhancer, networks.parser, background, upscale, strength)
