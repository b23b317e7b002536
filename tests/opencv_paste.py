"""The feather paste-back chain as it ran before the torch path (OpenCV / numpy on the CPU, one frame
at a time): the reference the torch path is held to (tests/sadtalker_core/post/test_paste.py) and
the baseline of benchmarks/paste_back.py.  Not library code: the library has one implementation,
:mod:`sadtalker_core.post.paste`."""
from __future__ import annotations

import cv2
import numpy as np

from sadtalker_core.io.frame_size import face_frame_size, pad_to_even
from sadtalker_core.source.crop import Box


def opencv_feather_weights(width: int, height: int, feather: float, shape: str) -> np.ndarray:
    """The feather mask as numpy computed it: smoothstep of the distance to the box edge (``rect``)
    or to the inscribed ellipse (``ellipse``) over a band of ``feather`` x the shorter side."""
    band = max(feather * min(width, height), 1.0)
    xs = np.arange(width, dtype=np.float32) + 0.5
    ys = np.arange(height, dtype=np.float32) + 0.5
    if shape == "rect":
        dist = np.minimum.outer(np.minimum(ys, height - ys), np.minimum(xs, width - xs))
    else:
        u = (xs - width / 2) / (width / 2)
        v = (ys - height / 2) / (height / 2)
        dist = (1.0 - np.sqrt(v[:, None] ** 2 + u[None, :] ** 2)) * (min(width, height) / 2)
    t = np.clip(dist / band, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def opencv_feather_chain(render: np.ndarray, full_image: np.ndarray, box: Box, original_size: tuple[int, int],
                         feather: float, shape: str) -> np.ndarray:
    """A square uint8 render -> the even-sided full picture: ``cv2.resize`` to the crop's aspect,
    ``cv2.resize`` to the paste box, ``cv2.blendLinear`` under the feather mask (the box clipped to
    the picture), then the last row / column repeated to even sides."""
    face = cv2.resize(render, face_frame_size(render.shape[1], original_size))
    height, width = full_image.shape[:2]
    x1, y1, x2, y2 = max(box.x1, 0), max(box.y1, 0), min(box.x2, width), min(box.y2, height)
    bx1, by1, bx2, by2 = x1 - box.x1, y1 - box.y1, x2 - box.x1, y2 - box.y1
    patch = cv2.resize(face, (box.width, box.height))[by1:by2, bx1:bx2]
    weights = opencv_feather_weights(box.width, box.height, feather, shape)[by1:by2, bx1:bx2].copy()
    out = full_image.copy()
    out[y1:y2, x1:x2] = cv2.blendLinear(patch, full_image[y1:y2, x1:x2].copy(), weights, 1.0 - weights)
    return pad_to_even(out)
