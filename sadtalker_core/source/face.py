"""Source picture -> the face to animate: crop (as the preprocess mode says) + 73-d 3DMM coefficients.

This is the official ``CropAndExtract.generate`` for one picture (or one video frame):

1. 68 landmarks of the chosen face on the input picture (any :class:`LandmarkDetector`, or given;
   ``resize`` mode cuts no face, so the official code, and ours by default, skips this step);
2. the crop geometry and the render-size crop (:func:`~sadtalker_core.source.crop.crop_face`);
3. the landmarks in the render crop (:class:`CropLandmarks`): the official code runs the detector
   again on the resized crop and, where it finds no face, lets the standard face position stand in
   (:func:`~sadtalker_core.source.align.align_face`); that is the default.  (That fallback is the
   official code's written intent; with the facexlib it pins, 0.3.0, an empty detection raises an
   IndexError before the fallback is reached, and the run stops.)  ``mapped`` instead moves the
   landmarks of step 1 through the crop transform: one detection fewer, a deviation (the landmarks
   differ by the detector's error at the other scale; the reference goldens, whose detector was a
   stub, were made that way);
4. 5-point alignment and the ResNet-50 regressor -> 257 coefficients -> the 73-d source vector.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np
import torch

from ..errors import FaceTooSmallError, InputError
from ..networks.recon_net import ReconNet
from .align import align_face
from .crop import FaceCrop, PreprocessMode, crop_face
from .extract import Face3DMM, extract_3dmm
from .landmarks import FaceOrder, LandmarkDetector, NoFaceError, pick_face

#: the smallest face worth animating: the shorter side, in input pixels, of the region the render
#: input is cut from (the crop's ``original_size``); a smaller one is blown up more than four
#: times to the 256 px render and comes out as a blur with misplaced features
MIN_FACE_PIXELS = 64


class CropLandmarks(str, Enum):
    """Where the landmarks that align the render crop for the 3DMM regressor come from."""

    DETECT = "detect"  # official: the detector runs again on the render crop
    MAPPED = "mapped"  # deviation, faster: the input picture's landmarks mapped into the crop


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


def face_landmarks(image: np.ndarray, detector: LandmarkDetector, face_index: int | None = None,
                   name: str = "the image", face_order: FaceOrder | str = FaceOrder.SCORE) -> np.ndarray:
    """68 landmarks of the chosen face (:func:`pick_face`), computed for that face only."""
    return detector.landmarks(image, pick_face(detector.find_faces(image), face_index, name, face_order))


def find_landmarks(image: np.ndarray, detector: LandmarkDetector, mode: PreprocessMode,
                   face_index: int | None = None, name: str = "the image",
                   face_order: FaceOrder | str = FaceOrder.SCORE) -> np.ndarray | None:
    """:func:`face_landmarks`.  No face is an error, except in ``resize`` mode, which needs no
    face to cut: there the mean face position stands in (None)."""
    try:
        return face_landmarks(image, detector, face_index, name, face_order)
    except NoFaceError:
        if mode is not PreprocessMode.RESIZE or face_index:
            raise
        warnings.warn(f"no face found in {name}; 'resize' mode goes on with the mean face position", stacklevel=3)
        return None


def landmarks_on_crop(crop: FaceCrop, detector: LandmarkDetector, face_index: int | None = None,
                      name: str = "the image", face_order: FaceOrder | str = FaceOrder.SCORE) -> np.ndarray | None:
    """The official second detection: 68 landmarks of the face in the render crop, or None when
    the detector finds no face there.

    The crop modes cut the crop around the chosen face, so the first face in it (``face_order``) is
    taken; in ``resize`` mode the crop is the whole picture and ``face_index`` chooses, as on the picture.
    """
    index = face_index if crop.mode is PreprocessMode.RESIZE else None
    faces = detector.find_faces_in_crop(crop.image)
    if not faces and not index:
        return None
    return detector.landmarks(crop.image, pick_face(faces, index, f"{name} (resized to {crop.image.shape[0]} px)",
                                                    face_order))


def extract_source(image: np.ndarray, recon: ReconNet, mode: PreprocessMode | str = "crop", size: int = 256,
                   detector: LandmarkDetector | None = None, landmarks: np.ndarray | None = None,
                   face_index: int | None = None, name: str = "the image",
                   crop_landmarks: CropLandmarks | str = CropLandmarks.DETECT,
                   face_order: FaceOrder | str = FaceOrder.SCORE) -> SourceFace:
    """Crop the face of ``image`` for rendering at ``size`` and regress its 3DMM coefficients.

    Give ``landmarks`` (68, 2) of the face in ``image`` to skip the first detection, and a
    ``detector``.  ``crop_landmarks`` (:class:`CropLandmarks`) says how the crop's landmarks are
    found: ``detect`` (official) needs the detector, ``mapped`` needs it only when ``landmarks``
    are not given.  Of several faces, ``face_index`` counts in ``face_order`` (:class:`FaceOrder`: the
    most confident first, as official, or the largest).  A face too small to animate raises
    :class:`FaceTooSmallError`.
    """
    mode = PreprocessMode(mode)
    how = CropLandmarks(crop_landmarks)
    rgb = to_rgb_uint8(image, name)
    if detector is None and landmarks is None:
        raise ValueError("extract_source needs a landmark detector or the face's landmarks")
    if detector is None and how is CropLandmarks.DETECT:
        raise ValueError("extract_source with crop_landmarks='detect' needs a landmark detector to find the "
                         "landmarks on the render crop: give one, or crop_landmarks='mapped' to map the given "
                         "landmarks into the crop")
    if landmarks is None and (mode.crops_face or how is CropLandmarks.MAPPED):
        landmarks = find_landmarks(rgb, detector, mode, face_index, name, face_order)
    crop = crop_face(rgb, mode, landmarks, size, face_index or 0)
    check_face_size(crop, name)
    if how is CropLandmarks.MAPPED:
        found = None if landmarks is None else landmarks_in_crop(landmarks, crop)
    else:
        found = landmarks_on_crop(crop, detector, face_index, name, face_order)
        if found is None:
            warnings.warn(f"no face found in the {size} px crop of {name}; the mean face position stands in "
                          "for its landmarks (the official code's fallback)", stacklevel=2)
    coeffs = extract_3dmm(recon, align_face(crop.image, found))
    return SourceFace(crop, found, coeffs)


def extract_sequence(frames: Iterable[np.ndarray], recon: ReconNet, detector: LandmarkDetector,
                     mode: PreprocessMode | str = "crop", size: int = 256,
                     face_index: int | None = None, name: str = "the video",
                     crop_landmarks: CropLandmarks | str = CropLandmarks.DETECT,
                     face_order: FaceOrder | str = FaceOrder.SCORE) -> Iterator[SourceFace]:
    """3DMM coefficients of every frame of a video (e.g. a reference video for pose or blinks).

    As in the official code, the crop is fixed by the first frame and the landmarks of every
    frame are found on its render crop (:func:`landmarks_on_crop`); a frame without a face there
    takes the previous frame's.  ``crop_landmarks`` applies to the first frame (the one frame
    whose face was detected already, for the crop); errors name ``name`` and the frame.
    """
    first: FaceCrop | None = None
    previous: np.ndarray | None = None
    for index, frame in enumerate(frames):
        frame_name = f"frame {index} of {name}"
        rgb = to_rgb_uint8(frame, frame_name)
        if first is None:
            source = extract_source(rgb, recon, mode, size, detector, face_index=face_index, name=frame_name,
                                    crop_landmarks=crop_landmarks, face_order=face_order)
            first, previous = source.crop, source.landmarks
            yield source
            continue
        crop = dataclasses.replace(first, image=first.render_input(rgb), full_image=None)
        try:
            found = landmarks_on_crop(crop, detector, face_index, frame_name, face_order)
        except NoFaceError:  # resize mode: the face asked for is missing from this frame
            found = None
        previous = previous if found is None else found
        yield SourceFace(crop, previous, extract_3dmm(recon, align_face(crop.image, previous)))
