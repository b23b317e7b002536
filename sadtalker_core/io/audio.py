"""Audio tracks in and out of media files: the waveform a video is written with, and the first
audio stream of a video (or audio) file read back with PyAV."""
from __future__ import annotations

import os
from dataclasses import dataclass

import av
import numpy as np

from ..errors import VideoError
from .video_reader import open_media

#: PyAV channel layouts by channel count: what a track may have
LAYOUTS = {1: "mono", 2: "stereo"}


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
        if samples.ndim != 2 or samples.shape[0] not in LAYOUTS:
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


def read_audio(path: str | os.PathLike, sample_rate: int | None = None, mono: bool = False) -> AudioTrack:
    """The first audio stream of a video (or audio) file as float32, optionally resampled to
    ``sample_rate`` and/or downmixed to mono; trimmed to the stream's declared duration (the
    decoder pads the last AAC frame).  Check :attr:`VideoInfo.has_audio` first if the file may
    have none."""
    with open_media(path) as container:
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
