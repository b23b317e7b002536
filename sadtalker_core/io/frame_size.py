"""Frame sizes the video encoders accept, in one place (the video writer, the pipeline, the nodes).

H.264 / H.265 in 4:2:0 chroma (this library's :class:`~sadtalker_core.io.video_writer.VideoWriter`,
ComfyUI's Save Video) need even widths and heights, while SadTalker's frames come at the crop's
aspect, ``256 x int(256 * h / w)`` (:func:`face_frame_size`), or at the picture's own size after
paste-back: odd about a third of the time.  Frames are **padded**, never cropped or stretched: the
last row / column is repeated once, so every rendered pixel stays and the face does not move; where
a frame must have its exact size again (paste-back), the padding is sliced off.
"""
from __future__ import annotations

from typing import TypeVar

Frames = TypeVar("Frames")  # a numpy array or a torch tensor, (..., H, W, C)


def even_size(width: int, height: int) -> tuple[int, int]:
    """``(width, height)`` rounded up to even numbers."""
    return width + width % 2, height + height % 2


def pad_to_even(frames: Frames) -> Frames:
    """(..., H, W, C) frames (numpy or torch) with the last row / column repeated where H / W is odd."""
    height, width = frames.shape[-3:-1]
    if height % 2:
        frames = frames[..., [*range(height), height - 1], :, :]
    if width % 2:
        frames = frames[..., [*range(width), width - 1], :]
    return frames


def face_frame_size(render_size: int, original_size: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of a rendered face frame at the crop's aspect, as the official
    ``AnimateFromCoeff.generate`` resizes it: ``(S, int(S * h / w))`` for an S-pixel render of a
    crop of ``original_size`` (w, h) pixels in the picture."""
    width, height = original_size
    return render_size, int(render_size * height / width)


def without_padding(frames: Frames, size: tuple[int, int]) -> Frames:
    """(..., H, W, C) frames of ``size`` (width, height), or of that size padded by :func:`pad_to_even`,
    at ``size``; frames of any other size come back unchanged."""
    width, height = size
    if tuple(frames.shape[-2:-4:-1]) == even_size(width, height):
        return frames[..., :height, :width, :]
    return frames
