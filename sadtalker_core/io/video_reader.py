"""Videos in, with PyAV: probing, and frames read on a fixed timeline.

Reading yields RGB uint8 frames on a fixed timeline (25 fps by default: the rate SadTalker's
coefficients live on) whatever the source rate, by taking for each output instant the source
frame shown nearest to it.  The source stage reads reference videos this way, and training its
clips.
"""
from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Iterator

import av
import numpy as np

from ..config import VIDEO_FPS, ReferenceFrames
from ..errors import VideoError


def iter_reference_frames(path: str | os.PathLike | BinaryIO, mode: ReferenceFrames | str,
                     limit: int | None = None) -> Iterator[np.ndarray]:
    """A reference video's frames as 25 fps motion frames, decoded lazily, as ``mode`` says (one
    to one, or on a 25 fps timeline); no more than ``limit`` of them (the rest is never decoded)."""
    fps = None if ReferenceFrames(mode) is ReferenceFrames.ONE_TO_ONE else VIDEO_FPS
    return itertools.islice(iter_frames(path, fps), limit)


def reference_frame_count(path: str | os.PathLike | BinaryIO, mode: ReferenceFrames | str) -> int:
    """How many motion frames :func:`iter_reference_frames` gives for the whole video."""
    info = probe_video(path)
    if ReferenceFrames(mode) is ReferenceFrames.ONE_TO_ONE:
        return info.frame_count
    return round(info.duration * VIDEO_FPS)


def reference_indices(num_frames: int, source_fps: float | Fraction, mode: ReferenceFrames | str) -> list[int]:
    """Which of ``num_frames`` frames in memory each 25 fps motion frame takes, as ``mode`` says."""
    if ReferenceFrames(mode) is ReferenceFrames.ONE_TO_ONE:
        return list(range(num_frames))
    return resample_indices(num_frames, source_fps)


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` reports about a file's first video stream."""

    path: Path | None  # None for a file object
    frame_count: int
    fps: float
    duration: float  # seconds
    width: int
    height: int
    has_audio: bool
    audio_sample_rate: int | None


def frame_rate(fps: float | Fraction) -> Fraction:
    """``fps`` as an exact fraction (29.97 -> 2997/100), or a :class:`VideoError` unless above 0."""
    rate = Fraction(fps).limit_denominator(10_000)
    if rate <= 0:
        raise VideoError(f"fps must be positive, got {fps}")
    return rate


def open_media(path: str | os.PathLike | BinaryIO) -> av.container.InputContainer:
    """The media at ``path``: a file name, or a seekable file object (read from its start)."""
    try:
        if hasattr(path, "read"):
            path.seek(0)
            return av.open(path)
        return av.open(str(path))
    except (OSError, av.FFmpegError) as err:
        raise VideoError(f"cannot read {path}: {err}; check that the file exists and is a video") from err


def _video_stream(container: av.container.InputContainer, path: str | os.PathLike) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise VideoError(f"{path} has no video stream")
    return container.streams.video[0]


def probe_video(path: str | os.PathLike | BinaryIO) -> VideoInfo:
    """Frame count, frame rate, duration, size and audio presence of a video file.

    The frame count comes from the container's index, or by counting packets (no decoding)
    when the container does not record it.
    """
    with open_media(path) as container:
        stream = _video_stream(container, path)
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        frame_count = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
        if stream.duration is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = frame_count / fps if fps else 0.0
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(
            path=None if hasattr(path, "read") else Path(path),
            frame_count=frame_count,
            fps=fps,
            duration=duration,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            has_audio=audio is not None,
            audio_sample_rate=audio.sample_rate if audio is not None else None,
        )


def iter_frames(path: str | os.PathLike | BinaryIO, fps: float | Fraction | None = None) -> Iterator[np.ndarray]:
    """The frames of a video as RGB uint8 (H, W, 3) arrays, decoded lazily: every decoded frame in
    order (``fps`` None: how the official code reads a reference video, one video frame per motion
    frame whatever the video's rate), or resampled to a ``fps`` timeline.

    Resampled, output frame ``k`` (at ``k / fps`` seconds after the first frame) is the source
    frame whose timestamp is nearest to it, so a source at another rate has frames repeated or
    dropped; a source already at ``fps`` comes out frame for frame.  The last source frame is held
    for half a source frame period, so the output lasts as long as the source does.
    """
    if fps is None:
        with open_media(path) as container:
            decoded = False
            for frame in container.decode(_video_stream(container, path)):
                decoded = True
                yield frame.to_ndarray(format="rgb24")
            if not decoded:
                raise VideoError(f"{path} holds no decodable video frames")
        return
    rate = frame_rate(fps)
    with open_media(path) as container:
        stream = _video_stream(container, path)
        source_rate = Fraction(stream.average_rate or stream.guessed_rate or rate)
        start: Fraction | None = None
        held: tuple[Fraction, av.VideoFrame] | None = None
        emitted = 0
        for index, frame in enumerate(container.decode(stream)):
            time = frame.pts * stream.time_base if frame.pts is not None else index / source_rate
            start = time if start is None else start
            if held is not None:
                boundary = (held[0] + time) / 2 - start
                image = None
                while emitted / rate < boundary:
                    image = held[1].to_ndarray(format="rgb24") if image is None else image
                    yield image
                    emitted += 1
            held = (time, frame)
        if held is None:
            raise VideoError(f"{path} holds no decodable video frames")
        end = held[0] + 1 / (2 * source_rate) - start
        image = held[1].to_ndarray(format="rgb24")
        while emitted / rate < end:
            yield image
            emitted += 1


def resample_indices(num_frames: int, source_fps: float | Fraction, fps: float | Fraction = VIDEO_FPS) -> list[int]:
    """Which of ``num_frames`` decoded frames at a constant ``source_fps`` each output frame at
    ``fps`` shows: the nearest-frame rule of :func:`iter_frames`, for frames already in memory
    (e.g. a video decoded by another program).  The same rate gives every frame once."""
    if num_frames < 1:
        raise VideoError(f"need at least one frame to resample, got {num_frames}")
    source, rate = frame_rate(source_fps), frame_rate(fps)
    half = Fraction(1, 2)
    count = math.ceil((num_frames - half) * rate / source)
    return [min(num_frames - 1, math.floor(k * source / rate - half) + 1) for k in range(count)]
