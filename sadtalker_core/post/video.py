"""Video files in and out with PyAV: H.264 + AAC writing, frame-rate-resampled reading, probing.

Writing is streamed (frames go to the encoder as they are produced, so a long render never
sits in memory) and atomic: the file is encoded under a hidden temporary name in the destination
folder and renamed into place only when it is complete, so an exception or an interrupt leaves
neither a broken video nor the temporary file behind (a process killed outright cannot clean up:
the next write of the same file removes what it left).  Videos get the permissions the umask gives
any new file.  The audio track is cut or padded with
silence to exactly ``frame_count / fps`` seconds, because SadTalker renders one frame per 40 ms
of speech and a longer track would play over a frozen last frame.

Reading yields RGB uint8 frames on a fixed timeline (25 fps by default: the rate SadTalker's
coefficients live on) whatever the source rate, by taking for each output instant the source
frame shown nearest to it.
"""
from __future__ import annotations

import glob
import math
import os
import secrets
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from ..errors import VideoError
from .frame_size import even_size, pad_to_even

DEFAULT_FPS = 25
_LAYOUTS = {1: "mono", 2: "stereo"}
_PARTIAL = ".partial"  # temporary files are .<stem>.<pid>.<random>.partial<suffix>


@dataclass(frozen=True)
class AudioTrack:
    """A waveform: ``samples`` float32 (channels, n) in [-1, 1], 1 or 2 channels.

    A 1-d array is taken as mono; numpy arrays and CPU tensors are accepted and converted.
    """

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[None]
        if samples.ndim != 2 or samples.shape[0] not in _LAYOUTS:
            raise VideoError(
                f"audio must be a 1-d waveform or (channels, samples) with 1 or 2 channels, got shape "
                f"{tuple(np.shape(self.samples))}; downmix or transpose it first"
            )
        if int(self.sample_rate) <= 0:
            raise VideoError(f"audio sample rate must be positive, got {self.sample_rate}")
        object.__setattr__(self, "samples", np.ascontiguousarray(samples))
        object.__setattr__(self, "sample_rate", int(self.sample_rate))

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.shape[1] / self.sample_rate


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` reports about a file's first video stream."""

    path: Path
    frame_count: int
    fps: float
    duration: float  # seconds
    width: int
    height: int
    has_audio: bool
    audio_sample_rate: int | None


def _as_fraction(fps: float | Fraction) -> Fraction:
    rate = Fraction(fps).limit_denominator(10_000)
    if rate <= 0:
        raise VideoError(f"fps must be positive, got {fps}")
    return rate


def _temp_file(path: Path) -> Path:
    """Create (empty) the hidden temporary file :class:`VideoWriter` encodes into, beside ``path``:
    ``.<stem>.<pid>.<random>.partial<suffix>``, with the permissions the umask gives any new file.
    Temporary files of earlier writes of ``path`` whose process is gone are removed first.

    This is also the writability check: it fails here, before any work, if the folder cannot
    be created or written.
    """
    folder = path.parent
    if path.is_dir():
        raise VideoError(
            f"cannot write the video {path}: that path is a folder; give a file name such as {path / 'out.mp4'}"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(path)
        while True:
            temp = folder / f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}{_PARTIAL}{path.suffix}"
            try:
                os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
                return temp
            except FileExistsError:
                continue
            except FileNotFoundError:  # another process's check_writable removed the folder it had made
                folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise VideoError(
            f"cannot write the video {path}: the folder {folder} cannot be created or written ({err.strerror or err}); "
            "choose another output folder or fix its permissions"
        ) from err


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (POSIX).  Elsewhere False: Windows refuses to
    delete a file that another process still has open, which protects a live writer's file."""
    if os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_partials(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that writes of ``path`` left behind when their process was
    killed outright (SIGKILL, a power cut: no cleanup could run); those of a process still
    running are kept.  Returns the files removed."""
    path = Path(path)
    prefix, suffix = f".{path.stem}.", f"{_PARTIAL}{path.suffix}"
    removed = []
    for candidate in path.parent.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
        middle = candidate.name[len(prefix):-len(suffix)]
        pid, dot, token = middle.partition(".")
        if dot:
            if not (pid.isdigit() and token.isalnum()) or _process_alive(int(pid)):
                continue
        elif not (len(middle) == 8 and middle.replace("_", "").isalnum()):
            continue  # not ours; 8 letters: tempfile's name, from versions that did not record the pid
        try:
            candidate.unlink()
            removed.append(candidate)
        except OSError:
            pass  # in use (Windows) or already gone
    return removed


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
    pixel column/row to the even size yuv420p needs (:func:`~sadtalker_core.post.frame_size.pad_to_even`).
    ``crf`` and ``preset`` are libx264's quality/speed settings.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float | Fraction = DEFAULT_FPS,
        audio: AudioTrack | None = None,
        crf: int = 18,
        preset: str = "medium",
        audio_bitrate: int = 128_000,
    ):
        self.path = Path(path)
        self.fps = _as_fraction(fps)
        self.frame_count = 0
        self._audio = audio
        self._audio_fed = 0
        self._size: tuple[int, int] | None = None  # (height, width) of the frames given
        self._container: av.container.OutputContainer | None = None
        self._temp = _temp_file(self.path)
        try:
            self._container = av.open(str(self._temp), mode="w")
            options = {"crf": str(crf), "preset": preset}
            self._video = self._container.add_stream("libx264", rate=self.fps, options=options)
            self._video.pix_fmt = "yuv420p"
            self._audio_stream = None
            if audio is not None:
                self._audio_stream = self._container.add_stream(
                    "aac", rate=audio.sample_rate, layout=_LAYOUTS[audio.channels], bit_rate=audio_bitrate
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
        layout = _LAYOUTS[self._audio.channels]
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
            os.replace(self._temp, self.path)
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
        self._temp.unlink(missing_ok=True)


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    try:
        return av.open(str(path))
    except (OSError, av.FFmpegError) as err:
        raise VideoError(f"cannot read {path}: {err}; check that the file exists and is a video") from err


def _video_stream(container: av.container.InputContainer, path: str | os.PathLike) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise VideoError(f"{path} has no video stream")
    return container.streams.video[0]


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame count, frame rate, duration, size and audio presence of a video file.

    The frame count comes from the container's index, or by counting packets (no decoding)
    when the container does not record it.
    """
    with _open(path) as container:
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
            path=Path(path),
            frame_count=frame_count,
            fps=fps,
            duration=duration,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            has_audio=audio is not None,
            audio_sample_rate=audio.sample_rate if audio is not None else None,
        )


def iter_frames(path: str | os.PathLike, fps: float | Fraction = DEFAULT_FPS) -> Iterator[np.ndarray]:
    """The frames of a video as RGB uint8 (H, W, 3) arrays on a ``fps`` timeline, decoded lazily.

    Output frame ``k`` (at ``k / fps`` seconds after the first frame) is the source frame whose
    timestamp is nearest to it, so a source at another rate has frames repeated or dropped; a
    source already at ``fps`` comes out frame for frame.  The last source frame is held for half
    a source frame period, so the output lasts as long as the source does.
    """
    rate = _as_fraction(fps)
    with _open(path) as container:
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


def resample_indices(num_frames: int, source_fps: float | Fraction, fps: float | Fraction = DEFAULT_FPS) -> list[int]:
    """Which of ``num_frames`` decoded frames at a constant ``source_fps`` each output frame at
    ``fps`` shows: the nearest-frame rule of :func:`iter_frames`, for frames already in memory
    (e.g. a video decoded by another program).  The same rate gives every frame once."""
    if num_frames < 1:
        raise VideoError(f"need at least one frame to resample, got {num_frames}")
    source, rate = _as_fraction(source_fps), _as_fraction(fps)
    half = Fraction(1, 2)
    count = math.ceil((num_frames - half) * rate / source)
    return [min(num_frames - 1, math.floor(k * source / rate - half) + 1) for k in range(count)]


def read_audio(path: str | os.PathLike, sample_rate: int | None = None, mono: bool = False) -> AudioTrack:
    """The first audio stream of a video (or audio) file as float32, optionally resampled to
    ``sample_rate`` and/or downmixed to mono; trimmed to the stream's declared duration (the
    decoder pads the last AAC frame).  Check :attr:`VideoInfo.has_audio` first if the file may
    have none."""
    with _open(path) as container:
        if not container.streams.audio:
            raise VideoError(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        rate = sample_rate or stream.sample_rate
        layout = "mono" if mono or stream.channels == 1 else "stereo"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        chunks = [
            resampled.to_ndarray()
            for frame in container.decode(stream)
            for resampled in resampler.resample(frame)
        ]
        chunks += [resampled.to_ndarray() for resampled in resampler.resample(None)]
        if not chunks:
            raise VideoError(f"{path} has an audio stream but no decodable audio")
        samples = np.concatenate(chunks, axis=1)
        if stream.duration is not None:
            samples = samples[:, : round(stream.duration * stream.time_base * rate)]
        return AudioTrack(samples, rate)
