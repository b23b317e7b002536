"""Audio loading and mel windows behave like ``librosa.load(path, sr=16000)`` + the official ``get_data``."""
from __future__ import annotations

import warnings

import librosa
import numpy as np
import pytest
import soundfile
import torch

from sadtalker_core.motion.audio import (
    AudioError,
    audio_features,
    fit_to_frames,
    frame_mel_windows,
    load_audio_features,
    load_wav,
    melspectrogram,
    num_video_frames,
    to_mono_16k,
)


def _write_tone(path, sample_rate: int, channels: int, seconds: float = 0.5) -> np.ndarray:
    """A different tone per channel, written as 16-bit PCM; returns the (n, channels) samples written."""
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    samples = np.stack([0.4 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], axis=1)
    soundfile.write(path, samples, sample_rate, subtype="PCM_16")
    return samples


@pytest.mark.parametrize("name", ["RD_Radio31_000.wav", "chinese_poem1.wav"])
def test_loading_the_example_files_equals_librosa_load_at_16k(media_dir, name):
    """RD_Radio31 is 16 kHz stereo (averaged), chinese_poem1 24 kHz mono (resampled)."""
    ours = load_wav(media_dir / name)
    expected = librosa.load(media_dir / name, sr=16000)[0]
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("sample_rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_any_sample_rate_and_channel_count_becomes_16k_mono(tmp_path, sample_rate, channels):
    path = tmp_path / f"tone_{sample_rate}_{channels}.wav"
    written = _write_tone(path, sample_rate, channels)
    ours = load_wav(path)
    assert ours.ndim == 1 and ours.dtype == np.float32
    assert len(ours) == int(np.ceil(len(written) * 16000 / sample_rate))
    np.testing.assert_array_equal(ours, librosa.load(path, sr=16000)[0])


def test_stereo_is_mixed_down_by_averaging_the_channels(tmp_path):
    path = tmp_path / "stereo.wav"
    _write_tone(path, 16000, 2)
    stereo = soundfile.read(path, dtype="float32")[0]
    np.testing.assert_allclose(load_wav(path), stereo.mean(axis=1), atol=1e-7)


def test_in_memory_samples_load_like_the_file(tmp_path):
    """ComfyUI hands over channels-first arrays; they must give the file's result."""
    path = tmp_path / "tone.wav"
    _write_tone(path, 44100, 2)
    samples, rate = soundfile.read(path, dtype="float32")
    np.testing.assert_array_equal(to_mono_16k(samples.T, rate), load_wav(path))


def test_empty_audio_is_refused_naming_the_input(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros((0, 1)), 16000)
    with pytest.raises(AudioError, match=r"empty\.wav.*empty.*speech"):
        load_wav(path)
    with pytest.raises(AudioError, match="my clip: the audio is empty"):
        to_mono_16k(np.zeros((2, 0)), 16000, source="my clip")


def test_audio_shorter_than_one_video_frame_is_refused(tmp_path):
    path = tmp_path / "blip.wav"
    soundfile.write(path, np.full(600, 0.1), 16000)  # 600 < 640 samples = 1/25 s
    with pytest.raises(AudioError, match=r"blip\.wav.*shorter than one video frame"):
        load_audio_features(path)


def test_unreadable_file_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("not audio")
    with pytest.raises(AudioError, match=r"notes\.wav: cannot read the audio file.*convert it"):
        load_wav(path)


def test_non_finite_samples_are_refused():
    with pytest.raises(AudioError, match="NaN or infinite"):
        to_mono_16k(np.array([0.0, np.nan, 0.1]), 16000)


def test_video_length_is_whole_25fps_frames_of_640_samples():
    assert num_video_frames(32000) == 50
    assert num_video_frames(32639) == 50
    assert num_video_frames(639) == 0
    assert len(fit_to_frames(np.ones(32639, np.float32), 50)) == 32000
    padded = fit_to_frames(np.ones(100, np.float32), 1)
    assert len(padded) == 640 and padded[:100].all() and not padded[100:].any()


def test_features_cut_the_audio_to_whole_frames():
    wav = np.random.default_rng(0).uniform(-0.5, 0.5, 32000 + 500).astype(np.float32)
    features = audio_features(wav)
    assert features.num_frames == 50 and len(features.wav) == 32000
    assert features.mel.shape == (1 + 32000 // 200, 80) and features.mel.dtype == np.float32
    assert features.frame_mels.shape == (50, 80, 16) and features.frame_mels.dtype == np.float32
    assert features.mel_batch().shape == (1, 50, 1, 80, 16)
    assert torch.equal(features.mel_batch()[0, 7, 0], torch.from_numpy(features.frame_mels[7]))


def test_one_frame_of_audio_gives_its_window_without_a_warning():
    """Shorter than librosa's n_fft (800 samples): the zero-padded STFT is the official one, and
    librosa's warning about the length would be a stray line for the user."""
    wav = np.random.default_rng(0).uniform(-0.5, 0.5, 640).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        features = audio_features(wav)
    assert [str(w.message) for w in caught] == []
    assert features.frame_mels.shape == (1, 80, 16) and np.isfinite(features.frame_mels).all()


def test_mel_is_normalised_to_plus_minus_4_with_silence_at_the_floor():
    mel = melspectrogram(np.zeros(1600))
    assert mel.shape == (9, 80)
    np.testing.assert_array_equal(mel, -4.0)  # -100 dB floor - 20 dB ref -> clipped to -4
    loud = melspectrogram(np.random.default_rng(1).uniform(-1, 1, 1600))
    assert loud.min() >= -4 and loud.max() <= 4 and loud.max() > 0


def test_mel_matches_the_official_values_for_the_golden_audio(goldens_dir):
    from conformance import load_golden

    golden = load_golden(goldens_dir / "audio_RD_Radio31_000.safetensors")
    features = audio_features(golden["wav"].numpy())
    np.testing.assert_allclose(features.mel, golden["mel"].numpy(), atol=1e-4)


def test_frame_window_starts_two_frames_early_truncated_toward_zero_and_clamped():
    columns = 40
    mel = np.repeat(np.arange(columns, dtype=np.float64)[:, None], 80, axis=1)  # value = column index
    windows = frame_mel_windows(mel, 13)
    assert windows.shape == (13, 80, 16)
    first_columns = windows[:, 0, :].astype(int)  # every mel band holds the column index
    # frame 0 starts at int(-6.4) = -6, frame 1 at int(-3.2) = -3 (toward zero, not floor -4)
    assert first_columns[0].tolist() == [0] * 7 + list(range(1, 10))
    assert first_columns[1].tolist() == [0] * 4 + list(range(1, 13))
    assert first_columns[2].tolist() == list(range(0, 16))
    assert first_columns[7].tolist() == list(range(16, 32))  # int(80 * 5 / 25) = 16
    assert first_columns[12].tolist() == list(range(32, 40)) + [39] * 8  # clamped at the last column
    np.testing.assert_array_equal(windows[4], mel[6:22].T)  # int(80 * 2 / 25) = int(6.4) = 6
