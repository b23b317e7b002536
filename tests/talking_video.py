"""A small talking-head test video for the dub tests: the first frames of the 8 s reference video
(WDA_AlexandriaOcasioCortez_000.mp4, a 512 x 512 close-up) scaled to 256 px and placed on a
textured 384 x 320 background, so that the face's paste box leaves plenty of pixels around it
that must come out exactly as they went in."""
from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
from paths import MEDIA

from sadtalker_core.io.video_reader import iter_frames
from sadtalker_core.io.video_writer import VideoWriter

VIDEO = MEDIA / "WDA_AlexandriaOcasioCortez_000.mp4"
SIZE = (384, 320)  # (width, height) of the test frames
FACE_AT = (80, 40)  # where the scaled video's top-left corner goes


def talking_frames(count: int, blank: int | None = None) -> list[np.ndarray]:
    """``count`` RGB uint8 frames; frame ``blank`` (if given) replaced by an all-black frame, a frame with no face."""
    rng = np.random.default_rng(7)
    background = rng.integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    frames = []
    x, y = FACE_AT
    for index, frame in enumerate(itertools.islice(iter_frames(VIDEO), count)):
        canvas = background.copy()
        canvas[y:y + 256, x:x + 256] = cv2.resize(frame, (256, 256), interpolation=cv2.INTER_AREA)
        frames.append(np.zeros_like(canvas) if index == blank else canvas)
    return frames


def talking_video_file(path: Path, count: int) -> Path:
    """:func:`talking_frames` written to ``path`` as a 25 fps mp4."""
    with VideoWriter(path, fps=25) as writer:
        writer.write(np.stack(talking_frames(count)))
    return path


class LoadedVideo:
    """What ComfyUI's Load Video hands on (a VideoInput): here, only its stream source (a file name
    or a file object)."""

    def __init__(self, source):
        self.source = source

    def get_stream_source(self):
        return self.source
