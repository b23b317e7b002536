"""Videos out, with PyAV: H.264 + AAC, streamed and atomic.

Writing is streamed (frames go to the encoder as they are produced, so a long render never
sits in memory) and atomic (:mod:`.atomic`): the file is encoded under a hidden temporary name in
the destination folder and renamed into place only when it is complete, so an exception or an
interrupt leaves neither a broken video nor the temporary file behind (a process killed outright
cannot clean up: the next write of the same file removes what it left).  Videos get the
permissions the umask gives any new file.  The audio track is cut or padded with silence to
exactly ``frame_count / fps`` seconds, because SadTalker renders one frame per 40 ms of speech and
a longer track would play over a frozen last frame.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..config import VIDEO_FPS
from ..errors import VideoError
from .atomic import AtomicFile, remove_stale_partials, unique_partial
from .audio import LAYOUTS, AudioTrack
from .frame_size import even_size, pad_to_even
from .video_reader import frame_rate


def _temp_file(path: Path) -> Path:
    """Create (empty) the hidden temporary file :class:`VideoWriter` encodes into, beside ``path``
    (:func:`~.atomic.unique_partial`), after removing those of earlier writes of ``path`` whose
    process is gone.

    This is also the writability check: it fails here, before any work, if the folder cannot
    be created or written.
    """
    if path.is_dir():
        raise VideoError(
            f"cannot write the video {path}: that path is a folder; give a file name such as {path / 'out.mp4'}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(path)
        return unique_partial(path)
    except OSError as err:
        raise VideoError(
            f"cannot write the video {path}: the folder {path.parent} cannot be created or written "
            f"({err.strerror or err}); choose another output folder or fix its permissions"
        ) from err


def check_writable(path: str | os.PathLike) -> None:
    """Raise :class:`VideoError` unless a video can be written at ``path``.  Call it before a long
    render so that a bad output path fails at once; folders it had to create to find out are
    removed again (:class:`VideoWriter` creates them), so a render that fails later leaves nothing."""
    path = Path(path)
    missing = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]  # nearest first
    _temp_file(path).unlink()
    for folder in missing:
        try:
            folder.rmdir()
        except OSError:
            break  # something else was put there meanwhile: keep it


def _frame_batch(frames: np.ndarray) -> np.ndarray:
    """(H, W, 3) or (N, H, W, 3) uint8 -> (N, H, W, 3), or a :class:`VideoError` saying what is wrong."""
    batch = np.asarray(frames)
    if batch.ndim == 3:
        batch = batch[None]
    if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != np.uint8:
        raise VideoError(
            f"video frames must be RGB uint8 arrays of shape (H, W, 3) or (N, H, W, 3), got {batch.dtype} "
            f"{tuple(np.shape(frames))}; convert float images with (x * 255).round().clip(0, 255).astype(np.uint8)"
        )
    return batch


class VideoWriter:
    """Streams RGB uint8 frames into an H.264 (yuv420p) video with an optional AAC audio track.

    Use it as a context manager::

        with VideoWriter("out.mp4", fps=25, audio=AudioTrack(wave, 16000)) as writer:
            for chunk in frames:
                writer.write(chunk)

    The file appears at ``path`` when the block ends without an exception; otherwise the
    temporary file is removed and nothing is left.  Odd frame sizes are padded by one replicated
    pixel column/row to the even size yuv420p needs (:func:`~sadtalker_core.io.frame_size.pad_to_even`).
    ``crf`` and ``preset`` are libx264's quality/speed settings.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float | Fraction = VIDEO_FPS,
        audio: AudioTrack | None = None,
        crf: int = 18,
        preset: str = "medium",
        audio_bitrate: int = 128_000,
    ):
        self.path = Path(path)
        self.fps = frame_rate(fps)
        self.frame_count = 0
        self._audio = audio
        self._audio_fed = 0
        self._size: tuple[int, int] | None = None  # (height, width) of the frames given
        self._container: av.container.OutputContainer | None = None
        self._file = AtomicFile(self.path, _temp_file(self.path))
        try:
            self._container = av.open(str(self._file.partial), mode="w")
            options = {"crf": str(crf), "preset": preset}
            self._video = self._container.add_stream("libx264", rate=self.fps, options=options)
            self._video.pix_fmt = "yuv420p"
            self._audio_stream = None
            if audio is not None:
                self._audio_stream = self._container.add_stream(
                    "aac", rate=audio.sample_rate, layout=LAYOUTS[audio.channels], bit_rate=audio_bitrate
                )
        except Exception as err:
            self.abort()
            raise VideoError(f"cannot start writing {self.path}: {err}; use a .mp4, .mov or .mkv file name") from err

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frames: np.ndarray) -> None:
        """Encode one (H, W, 3) frame or an (N, H, W, 3) chunk of RGB uint8 frames (all of one size).

        Any error here (a bad frame, an encoder failure, an interrupt) discards the whole file.
        """
        try:
            self._write(_frame_batch(frames))
        except BaseException:
            self.abort()
            raise

    def _write(self, batch: np.ndarray) -> None:
        if self._container is None:
            raise VideoError(f"the writer of {self.path} is already closed")
        height, width = batch.shape[1:3]
        if self._size is None:
            self._size = (height, width)
            self._video.width, self._video.height = even_size(width, height)
        elif self._size != (height, width):
            raise VideoError(
                f"all frames of {self.path} must have one size: the first was {self._size[1]}x{self._size[0]}, "
                f"this one is {width}x{height}"
            )
        for image in pad_to_even(batch):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = self.frame_count
            self._container.mux(self._video.encode(frame))
            self.frame_count += 1
        self._feed_audio()

    def _feed_audio(self) -> None:
        """Encode the audio up to the end of the frames written so far (silence past its end)."""
        if self._audio is None:
            return
        until = round(self.frame_count * self._audio.sample_rate / self.fps)
        if until <= self._audio_fed:
            return
        chunk = self._audio.samples[:, self._audio_fed:until]
        if chunk.shape[1] < until - self._audio_fed:
            chunk = np.pad(chunk, ((0, 0), (0, until - self._audio_fed - chunk.shape[1])))
        layout = LAYOUTS[self._audio.channels]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=layout)
        frame.sample_rate = self._audio.sample_rate
        frame.pts = self._audio_fed
        self._container.mux(self._audio_stream.encode(frame))
        self._audio_fed = until

    def close(self) -> Path:
        """Flush the encoders and move the finished file to ``path``; returns ``path``."""
        try:
            if self._container is None:
                raise VideoError(f"the writer of {self.path} is already closed")
            if self.frame_count == 0:
                raise VideoError(f"no frames were written to {self.path}; nothing was saved")
            self._container.mux(self._video.encode(None))
            if self._audio_stream is not None:
                self._container.mux(self._audio_stream.encode(None))
            self._container.close()
            self._container = None
            self._file.commit()
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Stop writing and remove the temporary file (``path`` is left untouched)."""
        if self._container is not None:
            container, self._container = self._container, None
            try:
                container.close()
            except Exception:
                pass  # the half-written file is deleted below anyway
        self._file.discard()
