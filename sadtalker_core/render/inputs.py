"""The face renderer's inputs as the official ``get_facerender_data`` prepares them.

* the source image: float in [0, 1], resized to the render size with scikit-image (bilinear with
  anti-aliasing when downscaling), NCHW;
* the 3DMM coefficient windows MappingNet reads: 27 consecutive frames centred on each frame
  (indices clamped to the clip), and for the source the source coefficients repeated 27 times.
  The 73-d variant (facerender_still.yaml, preprocess ``full`` / ``extfull``) appends the source's
  crop values (its last 3 coefficients) to every driving frame.

Windows are cut on demand (:meth:`CoeffWindows.targets`), so a long clip never holds all of them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from skimage import img_as_float32
from skimage.transform import resize

#: frames on each side of the centre frame in a MappingNet window
SEMANTIC_RADIUS = 13
WINDOW = 2 * SEMANTIC_RADIUS + 1
#: 3DMM coefficients: expression 64, angles 3, translation 3 (+ 3 crop values in the 73-d variant)
EXP_DIMS = 64
MOTION_DIMS = 70


def source_image_tensor(image: np.ndarray, size: int = 256) -> torch.Tensor:
    """RGB image array (H, W, 3), any skimage-supported dtype -> (1, 3, size, size) float32 in [0, 1].

    The reference passes ``np.array(PIL.Image.open(path))`` as decoded; the steps are the same: ``img_as_float32`` then ``skimage.transform.resize`` to
    ``(size, size, 3)`` with its defaults (order 1, anti-aliasing when downscaling).
    """
    resized = resize(img_as_float32(image), (size, size, 3))
    return torch.from_numpy(np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32)).unsqueeze(0)


def read_source_image(path: str | os.PathLike, size: int = 256) -> torch.Tensor:
    """:func:`source_image_tensor` of the picture at ``path`` decoded by Pillow, as the reference reads it."""
    with Image.open(path) as image:
        return source_image_tensor(np.array(image), size)


@dataclass(frozen=True)
class CoeffWindows:
    """Source coefficients (1, C) and the driving sequence (frame_num, C), C = MappingNet's
    ``coeff_nc``, already prepared (crop values, still mode)."""

    source_coeff: torch.Tensor
    sequence: torch.Tensor

    @property
    def frame_num(self) -> int:
        return self.sequence.shape[0]

    @property
    def coeff_nc(self) -> int:
        return self.sequence.shape[1]

    def source(self) -> torch.Tensor:
        """(1, C, 27): the source coefficients repeated over the window."""
        return self.source_coeff.unsqueeze(2).expand(1, self.coeff_nc, WINDOW).contiguous()

    def targets(self, frames: torch.Tensor) -> torch.Tensor:
        """(n, C, 27) windows of the driving frames ``frames`` (n,) int: frame i sees frames
        i-13 .. i+13, clamped to the first / last frame."""
        offsets = torch.arange(-SEMANTIC_RADIUS, SEMANTIC_RADIUS + 1, device=frames.device)
        index = (frames.view(-1, 1) + offsets.view(1, -1)).clamp(0, self.frame_num - 1)
        return self.sequence[index.to(self.sequence.device)].transpose(1, 2).contiguous()


def coefficient_windows(source_coeff: torch.Tensor, coeff_seq: torch.Tensor, coeff_nc: int = MOTION_DIMS,
                        still: bool = False) -> CoeffWindows:
    """Prepare MappingNet's inputs like ``get_facerender_data``.

    ``source_coeff``: the source image's 3DMM row (1, 73) or (73,) (70 motion + 3 crop values;
    the crop values are used only when ``coeff_nc`` is 73).  ``coeff_seq``: the coefficients to
    render (frame_num, >= 70), the expression already scaled (the official ``--expression_scale``
    is applied here; ours is the motion's, :meth:`~sadtalker_core.motion.sequences.ExpressionSequence.scaled`);
    ``still`` replaces the driving pose (and crop values) by the source's.
    """
    source = torch.as_tensor(source_coeff, dtype=torch.float32).reshape(1, -1)[:, :coeff_nc]
    if source.shape[1] != coeff_nc:
        raise ValueError(f"source coefficients have {source.shape[1]} values; the {coeff_nc}-d mapping needs {coeff_nc}")
    sequence = torch.as_tensor(coeff_seq, dtype=torch.float32)[:, :MOTION_DIMS].clone()
    if sequence.ndim != 2 or sequence.shape[1] != MOTION_DIMS or sequence.shape[0] == 0:
        raise ValueError(f"coefficient sequence must be (frames >= 1, >= {MOTION_DIMS}), got {tuple(coeff_seq.shape)}")
    frame_num = sequence.shape[0]
    if coeff_nc > MOTION_DIMS:
        sequence = torch.cat([sequence, source[:, MOTION_DIMS:].expand(frame_num, -1)], dim=1)
    if still:
        sequence[:, EXP_DIMS:] = source[:, EXP_DIMS:].expand(frame_num, -1)
    return CoeffWindows(source_coeff=source, sequence=sequence)
