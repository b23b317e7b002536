"""Paste-back of rendered face frames into the full source image (``full`` / ``extfull`` modes).

Two blends, both prepared once per clip and applied frame by frame (memory stays flat):

* :class:`SeamlessPaste` — the official ``src/utils/paste_pic.py``: the frame gets the aspect of the
  crop (``AnimateFromCoeff.generate``'s resize before writing the video), is resized to the paste
  box and Poisson-blended with ``cv2.seamlessClone(NORMAL_CLONE)`` under an all-255 mask centred on
  the box. Bit-exact with the reference; ~50 ms per frame at 800x1200 on an idle 2-core CPU.
* :class:`FeatherPaste` — a soft-mask alpha blend on the box only: the frame is resized straight to
  the box (one resize instead of two) and faded into the image over a feather band, so the box
  border shows no seam. No colour correction (the Poisson blend shifts the face's colours toward
  the surroundings; this one keeps the rendered colours), but 1-4 ms per frame.

Frames come as numpy arrays or as torch tensors, and leave in the kind they came: numpy frames
(the Paste back node) are resized and blended by OpenCV on the CPU, tensors (the
pipeline's and the dub's renders) by the same arithmetic in torch on their own device, so a render's
frames stay there until the finished picture.  :func:`resize_frames` reproduces ``cv2.resize``
(``INTER_LINEAR``) bit for bit, and the feather blend is ``cv2.blendLinear``'s formula in float32:
the two paths give the same pictures (within one 8-bit level where float rounding differs).  Why
two: on the CPU OpenCV's SIMD code is 10-40x faster than the same arithmetic as torch operations
(benchmarks/paste_back.py).  The seamless clone is OpenCV's alone and runs on the CPU.

Frames and the full image must share channel order (both RGB or both BGR): the blends treat the
channels independently. Boxes reaching past the image (the reference clamps ``rx`` / ``ry`` to
the image, not the crop, so a face at the right or bottom edge gives one) are clipped to it;
OpenCV's seamlessClone would raise there.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import Enum

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..io.frame_size import face_frame_size
from ..source.crop import Box, FaceCrop

Frames = np.ndarray | torch.Tensor  # (..., H, W, 3) uint8, a numpy array or a tensor on any device

#: feather band of :class:`FeatherPaste`, as a fraction of the paste box's shorter side
DEFAULT_FEATHER = 0.1


class PasteMethod(str, Enum):
    SEAMLESS = "seamless"  # the official Poisson blend
    FEATHER = "feather"  # soft-mask alpha blend


class FeatherShape(str, Enum):
    RECT = "rect"  # fades in from the box edges: the whole box but its band is the rendered frame
    ELLIPSE = "ellipse"  # fades in from the inscribed ellipse: the box corners stay the original image


#: OpenCV's fixed-point bilinear weights: 11 fractional bits (``INTER_RESIZE_COEF_BITS``)
_COEF_BITS = 11


def _taps(source: int, target: int, device: torch.device, clamp_weights: bool) -> tuple[torch.Tensor, ...]:
    """Per output position along one axis: the two source indices and their fixed-point weights,
    as ``cv::resize`` (``INTER_LINEAR``) computes them: position ``(i + 0.5) * scale - 0.5`` in
    float32, weights ``round(w * 2048)``.  Columns outside the source (``clamp_weights``) take the
    edge pixel whole; rows keep their weights and read the edge row twice, as OpenCV does.  Computed
    on the CPU (float64 positions, which Apple's ``mps`` lacks), then moved to ``device``."""
    scale = 1.0 / (target / source)
    position = ((torch.arange(target, dtype=torch.float64) + 0.5) * scale - 0.5).to(torch.float32)
    first = torch.floor(position)
    fraction = position - first
    if clamp_weights:
        fraction = torch.where((first < 0) | (first >= source - 1), torch.zeros_like(fraction), fraction)
    first = first.to(torch.int64)
    weight0 = torch.round((1.0 - fraction) * (1 << _COEF_BITS)).to(torch.int32)
    weight1 = torch.round(fraction * (1 << _COEF_BITS)).to(torch.int32)
    taps = first.clamp(0, source - 1), (first + 1).clamp(0, source - 1), weight0, weight1
    return tuple(tap.to(device) for tap in taps)


def _resize_tensor(frames: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """``cv2.resize``'s 8-bit ``INTER_LINEAR`` arithmetic in int32 torch, on the frames' device:
    columns weighted in 11 bits, then rows combined as OpenCV's ``VResizeLinear`` rounds them."""
    x0, x1, a0, a1 = _taps(frames.shape[-2], width, frames.device, clamp_weights=True)
    y0, y1, b0, b1 = _taps(frames.shape[-3], height, frames.device, clamp_weights=False)
    pixels = frames.to(torch.int32)
    rows = pixels.index_select(-2, x0).mul_(a0[:, None]).add_(pixels.index_select(-2, x1).mul_(a1[:, None]))
    rows >>= 4  # (..., H, width, C): the columns' value x 2048, then >> 4 as VResizeLinear takes them
    top = rows.index_select(-3, y0).mul_(b0[:, None, None]).bitwise_right_shift_(16)
    bottom = rows.index_select(-3, y1).mul_(b1[:, None, None]).bitwise_right_shift_(16)
    return top.add_(bottom).add_(2).bitwise_right_shift_(2).clamp_(0, 255).to(torch.uint8)


def resize_frames(frames: Frames, size: tuple[int, int]) -> Frames:
    """(..., H, W, 3) uint8 frames at ``size`` (width, height), bilinear as ``cv2.resize``
    (``INTER_LINEAR``), in the kind given: numpy frames by OpenCV on the CPU, tensors on their own
    device by the same fixed-point arithmetic in torch, bit for bit.  Frames already at ``size``
    come back as they are."""
    width, height = size
    if tuple(frames.shape[-3:-1]) == (height, width):
        return frames
    if isinstance(frames, torch.Tensor):
        return _resize_tensor(frames, width, height)
    flat = frames.reshape(-1, *frames.shape[-3:])
    return np.stack([cv2.resize(frame, size) for frame in flat]).reshape(*frames.shape[:-3], height, width, -1)


def restore_aspect(frames: Frames, original_size: tuple[int, int]) -> Frames:
    """``AnimateFromCoeff.generate``'s resize of square renders to the crop's aspect:
    ``cv2.resize(frame, (S, int(S * h / w)))`` with S the render size and (w, h) = ``crop_info[0]``.

    (..., S, S, 3) uint8 frames, numpy or tensors on any device (:func:`resize_frames`).  Frames
    already at that size come back unchanged, so applying it twice is harmless.
    """
    return resize_frames(frames, face_frame_size(frames.shape[-2], original_size))


def _visible(box: Box, image_shape: tuple[int, ...]) -> tuple[Box, Box]:
    """The part of ``box`` inside an image of ``image_shape``, in image and in box coordinates."""
    height, width = image_shape[:2]
    inside = Box(max(box.x1, 0), max(box.y1, 0), min(box.x2, width), min(box.y2, height))
    if inside.width <= 0 or inside.height <= 0:
        raise InputError(f"paste box {box} lies outside the {width}x{height} image")
    return inside, inside.shifted(-box.x1, -box.y1)


def _check_image(image: Frames, what: str) -> None:
    """(H, W, 3) uint8 numpy, or (..., H, W, 3) uint8 torch, else a ValueError."""
    if isinstance(image, torch.Tensor):
        if image.ndim < 3 or image.shape[-1] != 3 or image.dtype != torch.uint8:
            raise ValueError(f"{what} must be (..., H, W, 3) uint8, got {tuple(image.shape)} {image.dtype}")
    elif image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"{what} must be (H, W, 3) uint8, got {image.shape} {image.dtype}")


class SeamlessPaste:
    """The official seamless-clone paste of frames into ``full_image`` at ``box`` (OpenCV, on the
    CPU: a frame given as a tensor is brought there first)."""

    def __init__(self, full_image: np.ndarray, box: Box, original_size: tuple[int, int]):
        _check_image(full_image, "full image")
        self.full_image = full_image
        self.box = box
        self.original_size = original_size
        self._inside, self._in_box = _visible(box, full_image.shape)
        self._mask = np.full((self._inside.height, self._inside.width, 3), 255, np.uint8)

    def patch(self, frame: Frames) -> np.ndarray:
        """``p`` of ``paste_pic``: the frame at the crop's aspect, resized to the box (clipped to the image)."""
        frame = frame.cpu().numpy() if isinstance(frame, torch.Tensor) else frame
        _check_image(frame, "frame")
        patch = cv2.resize(restore_aspect(frame, self.original_size), (self.box.width, self.box.height))
        b = self._in_box
        return patch[b.y1:b.y2, b.x1:b.x2]

    def __call__(self, frame: Frames) -> np.ndarray:
        return cv2.seamlessClone(self.patch(frame), self.full_image, self._mask, self._inside.center,
                                 cv2.NORMAL_CLONE)

    def changed_region(self) -> Box:
        """The pixels seamlessClone may change: OpenCV zeroes the mask's 1-px border."""
        w, h = self._inside.width - 2, self._inside.height - 2
        cx, cy = self._inside.center
        x0, y0 = cx - w // 2, cy - h // 2
        return Box(x0, y0, x0 + w, y0 + h)


def feather_weights(width: int, height: int, feather: float = DEFAULT_FEATHER,
                    shape: FeatherShape | str = FeatherShape.RECT) -> torch.Tensor:
    """(height, width) float32 weights of the frame: 0 at the box edge (or ellipse), smoothstep up
    to 1 over a band of ``feather`` x the box's shorter side."""
    shape = FeatherShape(shape)
    band = max(feather * min(width, height), 1.0)
    xs = torch.arange(width, dtype=torch.float32) + 0.5
    ys = torch.arange(height, dtype=torch.float32) + 0.5
    if shape is FeatherShape.RECT:
        dist = torch.minimum(torch.minimum(ys, height - ys)[:, None], torch.minimum(xs, width - xs)[None, :])
    else:
        u = (xs - width / 2) / (width / 2)
        v = (ys - height / 2) / (height / 2)
        radius = torch.sqrt(v[:, None] ** 2 + u[None, :] ** 2)
        dist = (1.0 - radius) * (min(width, height) / 2)  # approximate distance inside the ellipse
    t = torch.clamp(dist / band, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


class FeatherPaste:
    """Soft-mask alpha blend of frames into ``full_image`` at ``box``; only the box is computed.

    A numpy frame (H, W, 3) is blended by OpenCV (``cv2.blendLinear``) on the CPU; tensor frames
    (H, W, 3) or (n, H, W, 3) by the same formula in float32 torch where they are (the picture and
    the mask are moved to that device once), giving full pictures of the same kind.
    """

    def __init__(self, full_image: np.ndarray, box: Box, feather: float = DEFAULT_FEATHER,
                 shape: FeatherShape | str = FeatherShape.RECT):
        _check_image(full_image, "full image")
        self.full_image = full_image
        self.box = box
        self._inside, self._in_box = _visible(box, full_image.shape)
        b, i = self._in_box, self._inside
        self._weights = feather_weights(box.width, box.height, feather, shape)[b.y1:b.y2, b.x1:b.x2].numpy().copy()
        self._keep = 1.0 - self._weights
        self._background = full_image[i.y1:i.y2, i.x1:i.x2].copy()
        self._on_device: dict[torch.device, tuple[torch.Tensor, ...]] = {}

    def _operands(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        """On ``device`` (moved there once): the full picture, the weights, the background's share of
        the blend (``background x (1 - w)``) and blendLinear's divisor ``w + (1 - w) + 1e-5``."""
        if device not in self._on_device:
            weights, keep = (torch.from_numpy(w).to(device)[..., None] for w in (self._weights, self._keep))
            background = torch.from_numpy(self._background).to(device, torch.float32) * keep
            self._on_device[device] = (torch.from_numpy(self.full_image).to(device), weights, background,
                                       weights + keep + 1e-5)
        return self._on_device[device]

    def __call__(self, frames: Frames) -> Frames:
        _check_image(frames, "frame")
        b, i = self._in_box, self._inside
        patch = resize_frames(frames, (self.box.width, self.box.height))[..., b.y1:b.y2, b.x1:b.x2, :]
        if isinstance(frames, np.ndarray):
            out = self.full_image.copy()
            out[i.y1:i.y2, i.x1:i.x2] = cv2.blendLinear(patch, self._background, self._weights, self._keep)
            return out
        full, weights, background, divisor = self._operands(frames.device)
        blend = patch.to(torch.float32).mul_(weights).add_(background).div_(divisor)  # cv2.blendLinear's formula
        out = full.expand(*frames.shape[:-3], *full.shape).clone()
        out[..., i.y1:i.y2, i.x1:i.x2, :] = blend.round_().clamp_(0, 255).to(torch.uint8)
        return out


def paste_frames(frames: Iterable[Frames], face: FaceCrop,
                 method: PasteMethod | str = PasteMethod.SEAMLESS, feather: float = DEFAULT_FEATHER,
                 shape: FeatherShape | str = FeatherShape.RECT) -> Iterator[Frames]:
    """Full-image frames, one per rendered frame of ``face``, lazily (the blend is prepared once, here).

    ``face`` comes from ``crop_face`` in mode ``full`` or ``extfull``; frames are the renders (or
    their aspect-restored versions) in the channel order of ``face.full_image``, numpy arrays or
    tensors (the feather blend gives tensors back on their device, the seamless clone numpy
    arrays). ``feather`` and ``shape`` only concern the feather method.
    """
    if not face.mode.pastes_back or face.info is None or face.full_image is None:
        raise InputError(f"preprocess '{face.mode.value}' does not paste back (only full / extfull do)")
    box = face.info.paste_box(face.mode.extended)
    if PasteMethod(method) is PasteMethod.SEAMLESS:
        paste = SeamlessPaste(face.full_image, box, face.original_size)
    else:
        paste = FeatherPaste(face.full_image, box, feather, shape)
    return map(paste, frames)
