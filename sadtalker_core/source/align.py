"""5-point face alignment for the 3DMM regressor (Deep3DFaceRecon's ``align_img``).

The face is fitted to the standard 3D landmarks of the BFM with a scaled orthographic projection
(least squares, "POS"), the image is scaled so that the face has a fixed size and cropped to
224x224 around it.  ``trans_params`` (original width, height, scale, tx, ty) record that fit;
SadTalker passes scale, tx, ty on as the last three source coefficients.

Landmarks given to :func:`align_img` use the official convention: image x, and y measured upward
(``y' = H - 1 - y``); :func:`align_face` does that flip from ordinary image coordinates, as
``CropAndExtract.generate`` does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .landmarks import check_rgb_image

#: ``load_lm3d(similarity_Lm3D_all.mat)``: left eye, right eye, nose tip, left / right mouth
#: corner of the standard BFM face (float32 values, as the .mat stores them).
LM3D_STD = np.array(
    [
        [-0.3114865720272064, 0.29036077857017517, 0.13377952575683594],
        [0.30979886651039124, 0.289720356464386, 0.1317952573299408],
        [0.003253498813137412, -0.04617932438850403, 0.5524424314498901],
        [-0.25216928124427795, -0.3813391625881195, 0.22405731678009033],
        [0.24846619367599487, -0.38128235936164856, 0.22235769033432007],
    ],
    dtype=np.float32,
)
LM3D_STD.setflags(write=False)

ALIGNED_SIZE = 224  # side of the crop the regressor takes
RESCALE_FACTOR = 102.0  # face size in the crop, in units of the fitted projection scale

# 68-point (iBUG) indices used for the 5 points
_NOSE_TIP = 30
_LEFT_EYE_CORNERS = (36, 39)
_RIGHT_EYE_CORNERS = (42, 45)
_MOUTH_CORNERS = (48, 54)


@dataclass(frozen=True)
class TransParams:
    """How a frame was mapped to the aligned crop: its size, the scale and the fitted face centre."""

    width: float
    height: float
    scale: float
    tx: float
    ty: float

    def as_array(self) -> np.ndarray:
        """(w0, h0, s, tx, ty) as the float32 vector ``CropAndExtract`` builds."""
        return np.array([self.width, self.height, self.scale, self.tx, self.ty], dtype=np.float32)


@dataclass(frozen=True)
class AlignedFace:
    """The 224x224 RGB uint8 crop, the landmarks moved into it (y upward) and the fit's parameters."""

    image: np.ndarray
    landmarks: np.ndarray
    trans_params: TransParams


def extract_5p(lm68: np.ndarray) -> np.ndarray:
    """68 landmarks -> 5: eye centres (mean of each eye's two corners), nose tip, mouth corners."""
    lm68 = np.asarray(lm68)
    if lm68.ndim != 2 or lm68.shape[0] != 68:
        raise ValueError(f"extract_5p needs (68, D) landmarks, got shape {lm68.shape}")
    return np.stack([
        lm68[list(_LEFT_EYE_CORNERS)].mean(0),
        lm68[list(_RIGHT_EYE_CORNERS)].mean(0),
        lm68[_NOSE_TIP],
        lm68[_MOUTH_CORNERS[0]],
        lm68[_MOUTH_CORNERS[1]],
    ])


def fit_pos(lm2d: np.ndarray, lm3d: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares scaled orthographic fit ``lm2d ~ s * R[:2] @ lm3d + t`` of (N, 2) to (N, 3) points.

    Returns the translation ``t`` (2,) and the scale: the mean norm of the two fitted rows of s*R.
    """
    n = lm2d.shape[0]
    system = np.zeros((2 * n, 8))
    system[0::2, 0:3] = lm3d
    system[0::2, 3] = 1
    system[1::2, 4:7] = lm3d
    system[1::2, 7] = 1
    target = np.reshape(lm2d, (2 * n, 1))
    k = np.linalg.lstsq(system, target, rcond=None)[0][:, 0]
    scale = (np.linalg.norm(k[0:3]) + np.linalg.norm(k[4:7])) / 2
    return np.array([k[3], k[7]]), scale


def align_img(
    image: Image.Image | np.ndarray,
    lm: np.ndarray,
    lm3d: np.ndarray = LM3D_STD,
    target_size: int = ALIGNED_SIZE,
    rescale_factor: float = RESCALE_FACTOR,
) -> AlignedFace:
    """Scale and crop ``image`` so that the face fits the standard 3D landmarks ``lm3d``.

    ``lm`` is (5, 2) or (68, 2) landmarks with y upward (see the module doc); all of them are
    moved into the crop.  The resize is PIL bicubic, as in the official code (parts of the crop
    outside the scaled image are black).
    """
    pil = image if isinstance(image, Image.Image) else Image.fromarray(check_rgb_image(image, "face alignment"))
    lm = np.asarray(lm)
    if lm.ndim != 2 or lm.shape[1] != 2 or lm.shape[0] not in (5, 68):
        raise ValueError(f"align_img needs (5, 2) or (68, 2) landmarks, got shape {lm.shape}")
    lm5 = lm if lm.shape[0] == 5 else extract_5p(lm)
    w0, h0 = pil.size
    t, fit_scale = fit_pos(lm5, np.asarray(lm3d))
    s = rescale_factor / fit_scale

    # truncation (not rounding) of the scaled size and crop corner, as the reference's astype(int32)
    w, h = int(w0 * s), int(h0 * s)
    left = int(w / 2 - target_size / 2 + (t[0] - w0 / 2) * s)
    up = int(h / 2 - target_size / 2 + (h0 / 2 - t[1]) * s)
    crop = pil.resize((w, h), resample=Image.BICUBIC).crop((left, up, left + target_size, up + target_size))

    moved = np.stack([lm[:, 0] - t[0] + w0 / 2, lm[:, 1] - t[1] + h0 / 2], axis=1) * s
    moved = moved - np.array([[w / 2 - target_size / 2, h / 2 - target_size / 2]])
    return AlignedFace(np.array(crop), moved, TransParams(float(w0), float(h0), float(s), float(t[0]), float(t[1])))


def flip_y(lm: np.ndarray, height: int) -> np.ndarray:
    """Image-coordinate landmarks -> the y-upward convention of :func:`align_img` (``y' = H - 1 - y``)."""
    out = np.array(lm, copy=True)
    out[:, -1] = height - 1 - out[:, -1]
    return out


def standard_landmarks(width: int, height: int) -> np.ndarray:
    """The 5 standard landmarks spread over a ``width`` x ``height`` frame: the official stand-in
    when no face was detected (used as they are, without the y flip)."""
    lm = (LM3D_STD[:, :2] + 1) / 2.0
    return np.concatenate([lm[:, :1] * width, lm[:, 1:2] * height], axis=1)


def align_face(frame: np.ndarray, landmarks: np.ndarray | None) -> AlignedFace:
    """``CropAndExtract.generate``'s alignment of one RGB uint8 frame with its image-coordinate
    landmarks ((68, 2) or (5, 2)); ``None`` or the detector's all ``-1`` marker means no face."""
    height, width = check_rgb_image(frame, "face alignment").shape[:2]
    if landmarks is None or np.mean(landmarks) == -1:
        lm = standard_landmarks(width, height)
    else:
        lm = flip_y(np.asarray(landmarks).reshape(-1, 2), height)
    return align_img(frame, lm)
