"""Face crop of SadTalker's preprocess: the crop geometry from 68 landmarks and the five modes.

The geometry is the FFHQ-style oriented quad of the official ``Preprocesser.align_face``: a square
centred a little below the eyes, sized from the eye distance and the eye-to-mouth distance,
widened by a border of 10% into the "crop" box (clamped to the image). SadTalker then cuts either
the axis-aligned box around the quad (``crop`` / ``full``) or the whole bordered crop
(``extcrop`` / ``extfull``, the reference's ``still=True``) and resizes it to the square render
size; ``resize`` skips the face geometry and squashes the whole image. ``full`` / ``extfull``
later paste the rendered face back into the full image (see :mod:`sadtalker_core.post.paste`).

Reference quirks kept on purpose (each one changes numbers, so matching them is the point):

* landmark arithmetic is float32 (the detector's dtype) up to the quad direction, float64 after;
* the quad bottom ``ry`` is clamped with the image WIDTH, not its height;
* ``rx`` / ``ry`` are clamped to the image, not to the crop, so the quad box may reach past the
  crop; slicing clamps the cut image, while ``crop_info`` size and the paste box do not;
* ``crop_info`` size (the aspect of the rendered video) is always the quad box's, even in the
  ``ext`` modes whose picture is the larger crop.

Coordinates are (x, y) pixels of the image, boxes are half-open ``[x1, x2) x [y1, y2)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

#: ``Preprocesser.crop``'s ``xsize``: the quad is shrunk (with the image) past twice this size.
ALIGN_OUTPUT_SIZE = 512

_LEFT_EYE = slice(36, 42)
_RIGHT_EYE = slice(42, 48)
_MOUTH_LEFT, _MOUTH_RIGHT = 48, 54


class PreprocessMode(str, Enum):
    """``--preprocess`` of the official inference: how the source picture becomes the render input."""

    CROP = "crop"  # face quad box, rendered video only
    EXTCROP = "extcrop"  # the wider bordered crop, rendered video only
    RESIZE = "resize"  # whole image squashed to the render size, no face geometry
    FULL = "full"  # like crop, then pasted back into the full image
    EXTFULL = "extfull"  # like extcrop, then pasted back into the full image

    @property
    def crops_face(self) -> bool:
        """Whether the face geometry (and so landmarks) is needed."""
        return self is not PreprocessMode.RESIZE

    @property
    def extended(self) -> bool:
        """The reference's ``still=True`` crop (and ``extended_crop=True`` paste box)."""
        return self in (PreprocessMode.EXTCROP, PreprocessMode.EXTFULL)

    @property
    def pastes_back(self) -> bool:
        """Whether the rendered face goes back into the full image (and the still mapping net is used)."""
        return self in (PreprocessMode.FULL, PreprocessMode.EXTFULL)


@dataclass(frozen=True)
class Box:
    """Integer half-open pixel box ``[x1, x2) x [y1, y2)``."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    @property
    def center(self) -> tuple[int, int]:
        """``((x1 + x2) // 2, (y1 + y2) // 2)``: the location ``paste_pic`` clones to."""
        return (self.x1 + self.x2) // 2, (self.y1 + self.y2) // 2

    def shifted(self, dx: int, dy: int) -> Box:
        return Box(self.x1 + dx, self.y1 + dy, self.x2 + dx, self.y2 + dy)

    def scaled(self, sx: float, sy: float) -> Box:
        return Box(round(self.x1 * sx), round(self.y1 * sy), round(self.x2 * sx), round(self.y2 * sy))


@dataclass(frozen=True)
class CropInfo:
    """Everything the crop and the paste-back need (the reference's ``rsize, crop, quad`` / ``crop_info``).

    ``crop`` and ``quad`` are in the working image of size ``rsize``, which is the input image
    itself unless the face is huge (quad over 2048 px, ``shrink`` >= 2).
    """

    image_size: tuple[int, int]  # (w, h) of the input image
    rsize: tuple[int, int]  # (w, h) the image is resized to before cutting
    crop: Box  # (clx, cly, crx, cry): quad bounds + border, clamped to the working image
    quad: tuple[float, float, float, float]  # (lx, ly, rx, ry) float64, relative to the crop

    @property
    def quad_int(self) -> tuple[int, int, int, int]:
        """``int()`` of the quad (truncation; the values are >= 0), as every user of it does."""
        lx, ly, rx, ry = self.quad
        return int(lx), int(ly), int(rx), int(ry)

    @property
    def size(self) -> tuple[int, int]:
        """``crop_info[0]`` = (ox2 - ox1, oy2 - oy1): the aspect the rendered video is given."""
        lx, ly, rx, ry = self.quad_int
        return rx - lx, ry - ly

    def region(self, extended: bool) -> Box:
        """The box cut for the render (before slicing clamps it) and pasted back, in working coordinates."""
        if extended:
            return self.crop
        lx, ly, rx, ry = self.quad_int
        return Box(lx, ly, rx, ry).shifted(self.crop.x1, self.crop.y1)

    def paste_box(self, extended: bool) -> Box:
        """``paste_pic``'s box (ox1, oy1, ox2, oy2) in input-image coordinates.

        Equal to :meth:`region`; with a shrunk working image it is scaled back to the input image
        (the reference pastes the shrunk coordinates into the full image, a bug we do not keep; that
        path only ran with Pillow < 10, later ones fail on ``Image.ANTIALIAS``).
        """
        box = self.region(extended)
        if self.rsize == self.image_size:
            return box
        return box.scaled(self.image_size[0] / self.rsize[0], self.image_size[1] / self.rsize[1])

    def cut(self, image: np.ndarray, extended: bool) -> np.ndarray:
        """``Preprocesser.crop`` for one frame: resize to ``rsize``, take the crop, then (not
        extended) the quad box."""
        if (image.shape[1], image.shape[0]) != self.image_size:
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, crop was computed for "
                             f"{self.image_size[0]}x{self.image_size[1]}")
        if self.rsize != self.image_size:
            image = cv2.resize(image, self.rsize)
        c = self.crop
        cut = image[c.y1:c.y2, c.x1:c.x2]
        if not extended:
            lx, ly, rx, ry = self.quad_int
            cut = cut[ly:ry, lx:rx]
        return cut


def crop_geometry(landmarks: np.ndarray, image_size: tuple[int, int],
                  output_size: int = ALIGN_OUTPUT_SIZE) -> CropInfo:
    """The official ``align_face`` crop from 68 (x, y) landmarks of an image of ``image_size`` (w, h).

    The face square is centred a little below the eyes (a tenth of the way to the mouth), turned
    with the eye line and sized by the eye distance or the eye-to-mouth distance, whichever asks
    for more; the crop is its bounding box plus a margin, the quad the square's box inside the
    crop.  Only the eyes (36-47) and the mouth corners (48, 54) are used.  The arithmetic keeps the
    official dtypes (float32 landmarks, float64 from the half-side vectors on), so the integer
    boxes equal the official ones.
    """
    points = np.asarray(landmarks, dtype=np.float32)
    if points.shape != (68, 2):
        raise ValueError(f"need 68 (x, y) landmarks, got shape {points.shape}")
    width, height = image_size

    left_eye = points[_LEFT_EYE].mean(axis=0)
    right_eye = points[_RIGHT_EYE].mean(axis=0)
    eyes_middle = (left_eye + right_eye) * 0.5
    eye_line = right_eye - left_eye
    mouth_middle = (points[_MOUTH_LEFT] + points[_MOUTH_RIGHT]) * 0.5
    eyes_to_mouth = mouth_middle - eyes_middle

    # half-side vectors of the square: "across" follows the eye line tilted by the face's vertical
    # direction, "down" is it turned by 90 degrees
    across = eye_line.astype(np.float64) + np.array([eyes_to_mouth[1], -eyes_to_mouth[0]], dtype=np.float64)
    across /= np.hypot(*across)
    across *= max(np.hypot(*eye_line) * 2.0, np.hypot(*eyes_to_mouth) * 1.8)
    down = np.array([-across[1], across[0]])
    centre = eyes_middle + eyes_to_mouth * 0.1
    # corners: top-left, bottom-left, bottom-right, top-right of the (possibly turned) square
    corners = np.stack([centre - across - down, centre - across + down, centre + across + down, centre + across - down])
    side = np.hypot(*across) * 2

    # a face more than twice the output size is cut from a picture scaled down by a whole factor
    factor = int(np.floor(side / output_size * 0.5))
    if factor > 1:
        width, height = int(np.rint(float(width) / factor)), int(np.rint(float(height) / factor))
        corners /= factor
        side /= factor
    working_size = (width, height)

    margin = max(int(np.rint(side * 0.1)), 3)
    crop = Box(max(int(np.floor(corners[:, 0].min())) - margin, 0),
               max(int(np.floor(corners[:, 1].min())) - margin, 0),
               min(int(np.ceil(corners[:, 0].max())) + margin, width),
               min(int(np.ceil(corners[:, 1].max())) + margin, height))
    corners -= (crop.x1, crop.y1)  # into crop coordinates (no shift when the crop starts at the origin)

    corners += 0.5
    left = max(min(corners[0, 0], corners[1, 0]), 0.0)
    top = max(min(corners[0, 1], corners[3, 1]), 0.0)
    right = min(max(corners[2, 0], corners[3, 0]), width)
    bottom = min(max(corners[1, 1], corners[2, 1]), width)  # the official code limits the bottom by the width too
    return CropInfo((image_size[0], image_size[1]), working_size, crop,
                    (float(left), float(top), float(right), float(bottom)))


@dataclass(frozen=True, eq=False)
class FaceCrop:
    """The render input of one source picture and how it was made (``CropAndExtract.generate``)."""

    image: np.ndarray  # (size, size, 3) uint8 RGB: the picture the face renderer animates
    mode: PreprocessMode
    info: CropInfo | None  # None in ``resize`` mode
    original_size: tuple[int, int]  # ``crop_info[0]`` (w, h): aspect the rendered video is resized to
    full_image: np.ndarray | None = None  # the input picture (not copied), kept by the paste-back modes
    face_index: int = 0  # which detected face (the reference always takes the best one, 0)

    def render_input(self, frame: np.ndarray) -> np.ndarray:
        """Another frame of the same video prepared like the first (the reference crops every
        frame of a video with the first frame's landmarks)."""
        return prepare_frame(frame, self.mode, self.info, self.image.shape[0])


def prepare_frame(frame: np.ndarray, mode: PreprocessMode, info: CropInfo | None, size: int) -> np.ndarray:
    """Cut ``frame`` (RGB uint8) as ``mode`` does and resize it to ``size`` x ``size`` (cv2 INTER_LINEAR)."""
    if mode.crops_face:
        if info is None:
            raise ValueError(f"preprocess '{mode.value}' needs the crop geometry")
        frame = info.cut(frame, mode.extended)
    return cv2.resize(frame, (size, size))


def crop_face(image: np.ndarray, mode: PreprocessMode | str, landmarks: np.ndarray | None = None,
              size: int = 256, face_index: int = 0) -> FaceCrop:
    """Prepare an RGB uint8 picture for rendering at ``size`` (256 or 512) as ``mode`` says.

    ``landmarks`` are the 68 landmarks of the chosen face in ``image`` (not needed for ``resize``,
    which, like the reference, runs no face geometry at all). The cut and resize treat channels
    alike, so a BGR picture gives the same result in BGR.
    """
    mode = PreprocessMode(mode)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"need an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    if mode.crops_face:
        if landmarks is None:
            raise ValueError(f"preprocess '{mode.value}' needs the face's 68 landmarks")
        info = crop_geometry(landmarks, (width, height))
        original_size = info.size
    else:
        info, original_size = None, (width, height)
    full_image = image if mode.pastes_back else None
    return FaceCrop(prepare_frame(image, mode, info, size), mode, info, original_size, full_image, face_index)
