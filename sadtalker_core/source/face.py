"""Source picture -> the face to animate: crop (as the preprocess mode says) + 73-d 3DMM coefficients.

This is the official ``CropAndExtract.generate`` for one picture (or one video frame):

1. 68 landmarks of the chosen face on the input picture (any :class:`LandmarkDetector`, or given);
2. the crop geometry and the render-size crop (:func:`~sadtalker_core.source.crop.crop_face`);
3. the landmarks in the render crop: the official code runs the landmark detector a second time
   on the crop; mapping the first landmarks through the crop transform gives the same points
   without a second detection (the reference goldens were made that way);
4. 5-point alignment and the ResNet-50 regressor -> 257 coefficients -> the 73-d source vector.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..errors import FaceTooSmallError, InputError
from ..networks.recon_net import ReconNet
from .align import align_face
from .crop import FaceCrop, PreprocessMode, crop_face
from .extract import Face3DMM, extract_3dmm
from .landmarks import LandmarkDetector, NoFaceError, pick_face

#: the smallest face worth animating: the shorter side, in input pixels, of the region the render
#: input is cut from (the crop's ``original_size``); a smaller one is blown up more than four
#: times to the 256 px render and comes out as a blur with misplaced features
MIN_FACE_PIXELS = 64


@dataclass(frozen=True, eq=False)
class SourceFace:
    """The face to animate: its render crop and 3DMM coefficients."""

    crop: FaceCrop
    landmarks: np.ndarray | None  # (68, 2) float32 in render-crop pixels; None when none were found
    coeffs: Face3DMM

    @property
    def source_coeff(self) -> torch.Tensor:
        """(1, 73): expression 64, angles 3, translation 3, alignment (scale, tx, ty)."""
        return self.coeffs.source

    @property
    def size(self) -> int:
        return int(self.crop.image.shape[0])


def landmarks_in_crop(landmarks: np.ndarray, crop: FaceCrop) -> np.ndarray:
    """Map (68, 2) landmarks of the input picture into the render crop's pixels."""
    size = crop.image.shape[0]
    lm = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    if crop.info is None:  # resize mode: the whole picture squashed to size x size
        width, height = crop.original_size
        origin = np.zeros(2)
    else:
        region = crop.info.region(crop.mode.extended)
        origin = np.array([region.x1, region.y1], dtype=np.float64)
        width, height = region.width, region.height
    return ((lm - origin) * np.array([size / width, size / height])).astype(np.float32)


def to_rgb_uint8(image: np.ndarray, name: str = "the image") -> np.ndarray:
    """Any common picture array -> (H, W, 3) uint8 RGB: gray, RGBA (alpha dropped), 16-bit and
    float (0..1) pictures are converted; anything else gets an error naming ``name``."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or min(array.shape[:2]) < 1:
        raise InputError(f"{name}: expected a picture of shape (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    array = array[..., :3]
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype == np.uint16:
        return np.ascontiguousarray((array.astype(np.float32) / 257.0).round().astype(np.uint8))
    if np.issubdtype(array.dtype, np.floating):
        return np.ascontiguousarray((np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8))
    raise InputError(f"{name}: unsupported pixel type {array.dtype} (use 8-bit, 16-bit or float 0..1 pictures)")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A picture file as (H, W, 3) uint8 RGB, read as the official ``cv2.imread`` does (EXIF
    orientation applied, alpha dropped, gray made RGB) except that 16-bit and float pictures keep
    their depth until :func:`to_rgb_uint8` rounds them to 8 bits."""
    image = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if image is None:
        raise InputError(f"cannot read the picture {path}: the file is missing or not an image OpenCV reads "
                         "(use a PNG, JPEG, WebP, BMP or TIFF file)")
    return to_rgb_uint8(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), str(path))


def check_face_size(crop: FaceCrop, name: str = "the image") -> None:
    """Raise :class:`FaceTooSmallError` when the region the render input was cut from is smaller
    than :data:`MIN_FACE_PIXELS` on its shorter side."""
    width, height = crop.original_size
    if min(width, height) >= MIN_FACE_PIXELS:
        return
    what = name if crop.mode is PreprocessMode.RESIZE else f"the face in {name}"
    raise FaceTooSmallError(
        f"{what} is too small to animate: {width}x{height} px, SadTalker needs at least {MIN_FACE_PIXELS} px "
        f"(it renders at {crop.image.shape[0]} px). Use a larger picture, one where the face is closer, "
        "or upscale it first."
    )


def find_landmarks(image: np.ndarray, detector: LandmarkDetector, mode: PreprocessMode,
                   face_index: int | None = None, name: str = "the image") -> np.ndarray | None:
    """68 landmarks of the chosen face (largest by default).  No face is an error, except in
    ``resize`` mode, where the official code falls back to the mean face position (None)."""
    try:
        return pick_face(detector.detect(image), face_index, name).landmarks
    except NoFaceError:
        if mode is not PreprocessMode.RESIZE or face_index:
            raise
        warnings.warn(f"no face found in {name}; 'resize' mode goes on with the mean face position", stacklevel=2)
        return None


def extract_source(image: np.ndarray, recon: ReconNet, mode: PreprocessMode | str = "crop", size: int = 256,
                   detector: LandmarkDetector | None = None, landmarks: np.ndarray | None = None,
                   face_index: int | None = None, name: str = "the image") -> SourceFace:
    """Crop the face of ``image`` for rendering at ``size`` and regress its 3DMM coefficients.

    Give ``landmarks`` (68, 2) of the face in ``image`` to skip detection, or a ``detector``.
    A face too small to animate raises :class:`FaceTooSmallError`.
    """
    mode = PreprocessMode(mode)
    rgb = to_rgb_uint8(image, name)
    if landmarks is None:
        if detector is None:
            raise ValueError("extract_source needs a landmark detector or the face's landmarks")
        landmarks = find_landmarks(rgb, detector, mode, face_index, name)
    crop = crop_face(rgb, mode, landmarks, size, face_index or 0)
    check_face_size(crop, name)
    crop_landmarks = None if landmarks is None else landmarks_in_crop(landmarks, crop)
    coeffs = extract_3dmm(recon, align_face(crop.image, crop_landmarks))
    return SourceFace(crop, crop_landmarks, coeffs)


def extract_sequence(frames: Iterable[np.ndarray], recon: ReconNet, detector: LandmarkDetector,
                     mode: PreprocessMode | str = "crop", size: int = 256,
                     face_index: int | None = None, name: str = "the video") -> Iterator[SourceFace]:
    """3DMM coefficients of every frame of a video (e.g. a reference video for pose or blinks).

    As in the official code, the crop is fixed by the first frame; landmarks are detected on every
    frame (a frame without a face reuses the previous frame's landmarks).  Errors name ``name``
    and the frame.
    """
    mode = PreprocessMode(mode)
    first: FaceCrop | None = None
    previous: np.ndarray | None = None
    for index, frame in enumerate(frames):
        frame_name = f"frame {index} of {name}"
        rgb = to_rgb_uint8(frame, frame_name)
        if first is None:
            source = extract_source(rgb, recon, mode, size, detector, face_index=face_index, name=frame_name)
            first, previous = source.crop, source.landmarks
            yield source
            continue
        image = first.render_input(rgb)
        faces = detector.detect(image)
        if faces:
            previous = pick_face(faces, None if face_index is None else min(face_index, len(faces) - 1)).landmarks
        coeffs = extract_3dmm(recon, align_face(image, previous))
        yield SourceFace(FaceCrop(image, first.mode, first.info, first.original_size, None, first.face_index),
                         previous, coeffs)
