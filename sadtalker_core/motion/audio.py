"""Speech -> per-video-frame mel windows, the audio input of ExpNet and PoseVAE.

Mirrors the official ``src/utils/audio.py`` + ``get_data`` (generate_batch.py):

* loading equals ``librosa.load(path, sr=16000)``: float32 samples, channels averaged to mono,
  resampled with librosa's default ``soxr_hq``;
* the audio is cut (or zero-padded) to a whole number of 25 fps video frames (640 samples each);
* the Wav2Lip mel spectrogram (pre-emphasis, 800-point STFT with hop 200, 80 slaney mel bands,
  dB with a -100 dB floor, symmetric normalisation to [-4, 4]) is computed in float64;
* video frame ``i`` gets the 16 mel columns starting at ``int(80 * (i - 2) / 25)``, with indices
  clamped to the spectrogram (the window starts two frames early; the official code truncates the
  start toward zero, which is kept).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import lru_cache

import librosa
import numpy as np
import soundfile
import torch
from scipy import signal

from ..config import AudioConfig
from ..errors import AudioError
from .sequences import COEFF_DIM

DEFAULT_AUDIO = AudioConfig()


@dataclass(frozen=True)
class AudioFeatures:
    """The audio of one video, cut to whole frames, and its mel windows.

    ``wav``: float32 16 kHz mono samples (``num_frames * samples_per_frame`` of them);
    ``mel``: float32 (mel frames, 80) spectrogram; ``frame_mels``: float32 (num_frames, 80, 16),
    the window each video frame is driven by.
    """

    wav: np.ndarray
    mel: np.ndarray
    frame_mels: np.ndarray
    fps: int = DEFAULT_AUDIO.fps
    sample_rate: int = DEFAULT_AUDIO.sample_rate  # of ``wav``

    @property
    def num_frames(self) -> int:
        return int(self.frame_mels.shape[0])

    def mel_batch(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """The windows as the networks take them: (1, num_frames, 1, 80, 16) float32."""
        return torch.from_numpy(self.frame_mels).to(device)[None, :, None]


def load_wav(path: str | os.PathLike, cfg: AudioConfig = DEFAULT_AUDIO) -> np.ndarray:
    """Read an audio file (any sample rate / channel count soundfile reads) as float32 mono at
    ``cfg.sample_rate``, equal to ``librosa.load(path, sr=cfg.sample_rate)``."""
    try:
        samples, rate = soundfile.read(os.fspath(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(
            f"{path}: cannot read the audio file ({exc}); give a WAV/FLAC/OGG/MP3 file, "
            "or convert it to 16 kHz WAV first"
        ) from exc
    return to_mono_16k(samples.T, rate, cfg, source=str(path))


def to_mono_16k(
    samples: np.ndarray, sample_rate: float, cfg: AudioConfig = DEFAULT_AUDIO, source: str = "audio input"
) -> np.ndarray:
    """Channels-first samples ((channels, n) or (n,)) -> float32 mono at ``cfg.sample_rate``.

    Channels are averaged (librosa's ``to_mono``) before resampling with ``soxr_hq``.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim not in (1, 2):
        raise AudioError(f"{source}: expected samples shaped (n,) or (channels, n), got {samples.shape}")
    if samples.size == 0:
        raise AudioError(f"{source}: the audio is empty (no samples); give a file with speech in it")
    if not np.all(np.isfinite(samples)):
        raise AudioError(f"{source}: the audio holds NaN or infinite samples")
    mono = samples if samples.ndim == 1 else np.mean(samples, axis=0)
    if sample_rate != cfg.sample_rate:
        mono = librosa.resample(mono, orig_sr=sample_rate, target_sr=cfg.sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(mono, dtype=np.float32)


def samples_per_frame(cfg: AudioConfig = DEFAULT_AUDIO) -> float:
    """Audio samples per video frame (640 at 16 kHz / 25 fps)."""
    return cfg.sample_rate / cfg.fps


def num_video_frames(num_samples: int, cfg: AudioConfig = DEFAULT_AUDIO) -> int:
    """Whole video frames covered by ``num_samples`` (the official ``parse_audio_length``)."""
    return int(num_samples / samples_per_frame(cfg))


def fit_to_frames(wav: np.ndarray, num_frames: int, cfg: AudioConfig = DEFAULT_AUDIO) -> np.ndarray:
    """Cut or zero-pad ``wav`` to exactly ``num_frames`` video frames (``crop_pad_audio``)."""
    length = int(num_frames * samples_per_frame(cfg))
    if len(wav) >= length:
        return wav[:length]
    return np.pad(wav, (0, length - len(wav)))


@lru_cache(maxsize=4)
def _mel_basis(cfg: AudioConfig) -> np.ndarray:
    if cfg.fmax > cfg.sample_rate // 2:
        raise ValueError(f"fmax {cfg.fmax} is above the Nyquist frequency of {cfg.sample_rate} Hz")
    return librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.num_mels, fmin=cfg.fmin, fmax=cfg.fmax)


def melspectrogram(wav: np.ndarray, cfg: AudioConfig = DEFAULT_AUDIO) -> np.ndarray:
    """Wav2Lip mel spectrogram of 16 kHz samples: float64 (mel frames, num_mels) in
    [-max_abs_value, max_abs_value], ``1 + len(wav) // hop_size`` frames."""
    emphasised = signal.lfilter([1.0, -cfg.preemphasis], [1.0], wav)
    with warnings.catch_warnings():
        # a clip of one or two frames is shorter than n_fft: the centred, zero-padded STFT is what the
        # official code computes then too, so librosa's warning about it says nothing to the user
        warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large for input signal", category=UserWarning)
        spectrum = librosa.stft(
            y=emphasised, n_fft=cfg.n_fft, hop_length=cfg.hop_size, win_length=cfg.win_size,
            window="hann", center=True, pad_mode="constant",
        )
    mel = _mel_basis(cfg) @ np.abs(spectrum)
    floor = np.exp(cfg.min_level_db / 20 * np.log(10))
    db = 20 * np.log10(np.maximum(floor, mel)) - cfg.ref_level_db
    scaled = 2 * cfg.max_abs_value * ((db - cfg.min_level_db) / -cfg.min_level_db) - cfg.max_abs_value
    return np.clip(scaled, -cfg.max_abs_value, cfg.max_abs_value).T


def frame_mel_windows(mel: np.ndarray, num_frames: int, cfg: AudioConfig = DEFAULT_AUDIO) -> np.ndarray:
    """(num_frames, num_mels, mel_step_size) windows of a (mel frames, num_mels) spectrogram.

    Frame ``i`` starts ``int(mel_fps * (i - 2) / fps)`` mel columns in (truncated toward zero, as
    the official ``int()``); out-of-range column indices are clamped to the first / last column.
    """
    mel_fps = cfg.sample_rate / cfg.hop_size  # 80 mel columns per second
    starts = (mel_fps * ((np.arange(num_frames) - 2) / float(cfg.fps))).astype(np.int64)
    columns = np.clip(starts[:, None] + np.arange(cfg.mel_step_size), 0, mel.shape[0] - 1)
    return np.ascontiguousarray(mel[columns].transpose(0, 2, 1))


def audio_features(wav: np.ndarray, cfg: AudioConfig = DEFAULT_AUDIO, source: str = "audio input") -> AudioFeatures:
    """16 kHz mono samples -> :class:`AudioFeatures` (the audio half of the official ``get_data``)."""
    num_frames = num_video_frames(len(wav), cfg)
    if num_frames < 1:
        seconds = len(wav) / cfg.sample_rate
        raise AudioError(
            f"{source}: {seconds:.3f} s of audio is shorter than one video frame "
            f"(1/{cfg.fps} s); give at least {1 / cfg.fps:.2f} s of speech"
        )
    wav = fit_to_frames(np.asarray(wav, dtype=np.float32), num_frames, cfg)
    mel = melspectrogram(wav, cfg)
    windows = frame_mel_windows(mel, num_frames, cfg)
    return AudioFeatures(wav=wav, mel=mel.astype(np.float32), frame_mels=windows.astype(np.float32), fps=cfg.fps,
                         sample_rate=cfg.sample_rate)


def load_audio_features(path: str | os.PathLike, cfg: AudioConfig = DEFAULT_AUDIO) -> AudioFeatures:
    """Audio file -> :class:`AudioFeatures`."""
    return audio_features(load_wav(path, cfg), cfg, source=str(path))


def driving_reference(mels: torch.Tensor, ref_coeff: torch.Tensor) -> torch.Tensor:
    """What drives ExpNet and PoseVAE besides the audio: check ``mels`` (1, T, 1, 80, 16) and ``ref_coeff`` ((70,) or (T, 70)); the reference as (1, T, 70)."""
    if mels.ndim != 5 or mels.shape[0] != 1:
        raise ValueError(f"mels must be (1, T, 1, 80, 16) windows of one video, got {tuple(mels.shape)}")
    frames = mels.shape[1]
    ref = ref_coeff.to(device=mels.device, dtype=mels.dtype).reshape(-1, ref_coeff.shape[-1])
    if ref.shape[-1] < COEFF_DIM or ref.shape[0] not in (1, frames):
        raise ValueError(f"ref_coeff must be (70,) or ({frames}, 70), got {tuple(ref_coeff.shape)}")
    return ref[:, :COEFF_DIM].expand(frames, -1)[None]
