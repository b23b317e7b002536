"""Video I/O: atomic streamed H.264 + AAC writing, 25 fps reading, probing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sadtalker_core.errors import VideoError
from sadtalker_core.io.atomic import remove_stale_partials
from sadtalker_core.io.audio import AudioTrack, read_audio
from sadtalker_core.io.video_reader import iter_frames, probe_video
from sadtalker_core.io.video_writer import VideoWriter, check_writable

AAC_FRAME = 1024  # samples per AAC frame


def indexed_frames(count: int, height: int = 32, width: int = 64) -> np.ndarray:
    """Frames showing their index in binary as 8 black/white vertical stripes (survives lossy coding)."""
    bits = (np.arange(count)[:, None] >> np.arange(8)[None]) & 1  # (count, 8)
    stripes = np.repeat(bits * 255, width // 8, axis=1).astype(np.uint8)  # (count, width)
    return np.broadcast_to(stripes[:, None, :, None], (count, height, width, 3)).copy()


def frame_index(image: np.ndarray) -> int:
    stripes = image.mean(axis=(0, 2)).reshape(8, -1).mean(axis=1) > 128
    return int(sum(int(bit) << i for i, bit in enumerate(stripes)))


def sine(seconds: float, rate: int = 16000) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * 440 * np.arange(round(seconds * rate)) / rate)).astype(np.float32)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_two_seconds_with_sine_read_back_as_50_frames_and_matching_audio(tmp_path):
    path = tmp_path / "talk.mp4"
    frames = indexed_frames(50, 64, 96)
    with VideoWriter(path, fps=25, audio=AudioTrack(sine(2.0), 16000)) as writer:
        writer.write(frames[0])  # one frame ...
        writer.write(frames[1:20])  # ... and chunks
        writer.write(frames[20:])

    info = probe_video(path)
    assert (info.frame_count, info.fps, info.width, info.height) == (50, 25.0, 96, 64)
    assert info.duration == pytest.approx(2.0, abs=0.04)
    assert info.has_audio and info.audio_sample_rate == 16000
    audio = read_audio(path)
    assert audio.sample_rate == 16000 and audio.channels == 1
    assert abs(audio.samples.shape[1] - 32000) <= AAC_FRAME
    decoded = list(iter_frames(path))
    assert len(decoded) == 50 and decoded[0].shape == (64, 96, 3) and decoded[0].dtype == np.uint8
    assert [frame_index(f) for f in decoded] == list(range(50))
    assert leftovers(tmp_path) == ["talk.mp4"]


@pytest.mark.parametrize("seconds", [0.5, 3.0], ids=["short audio padded", "long audio cut"])
def test_audio_is_cut_or_padded_to_the_video_length(tmp_path, seconds):
    path = tmp_path / "out.mp4"
    stereo = np.stack([sine(seconds), -sine(seconds)])
    with VideoWriter(path, audio=AudioTrack(stereo, 16000)) as writer:
        writer.write(indexed_frames(25, 32, 32))

    audio = read_audio(path)
    assert audio.channels == 2
    assert abs(audio.samples.shape[1] - 16000) <= AAC_FRAME


def test_odd_sizes_are_padded_to_even_without_stretching(tmp_path):
    path = tmp_path / "odd.mp4"
    frame = np.zeros((33, 47, 3), np.uint8)
    frame[:, -8:] = 255  # a white band of 8 columns must come back as 9 (edge replicated), not stretched
    with VideoWriter(path) as writer:
        writer.write(np.repeat(frame[None], 5, axis=0))

    info = probe_video(path)
    assert (info.width, info.height) == (48, 34)
    first = next(iter_frames(path))
    assert first[:, :38].mean() < 10 and first[:, 40:].mean() > 245


def test_an_error_mid_write_leaves_no_file(tmp_path):
    path = tmp_path / "broken.mp4"
    with pytest.raises(KeyboardInterrupt):
        with VideoWriter(path, audio=AudioTrack(sine(1.0), 16000)) as writer:
            writer.write(indexed_frames(10, 32, 32))
            raise KeyboardInterrupt
    assert leftovers(tmp_path) == []


def test_a_bad_frame_discards_the_file(tmp_path):
    writer = VideoWriter(tmp_path / "out.mp4")
    writer.write(indexed_frames(3, 32, 32))
    with pytest.raises(VideoError, match="one size: the first was 32x32, this one is 16x32"):
        writer.write(indexed_frames(1, 32, 16))
    with pytest.raises(VideoError, match="RGB uint8"):
        VideoWriter(tmp_path / "other.mp4").write(np.zeros((4, 4, 3), np.float32))
    assert leftovers(tmp_path) == []


def test_an_existing_file_is_only_replaced_on_success(tmp_path):
    path = tmp_path / "keep.mp4"
    path.write_bytes(b"previous result")
    with pytest.raises(RuntimeError):
        with VideoWriter(path) as writer:
            writer.write(indexed_frames(3, 32, 32))
            raise RuntimeError("render failed")
    assert path.read_bytes() == b"previous result"


def test_closing_without_frames_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(VideoError, match="no frames were written"):
        with VideoWriter(tmp_path / "empty.mp4"):
            pass
    assert leftovers(tmp_path) == []


def test_unwritable_folder_fails_before_any_frame(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    target = blocker / "out.mp4"
    with pytest.raises(VideoError, match=f"folder {blocker} cannot be created or written.*choose another output folder"):
        check_writable(target)
    with pytest.raises(VideoError, match="cannot be created or written"):
        VideoWriter(target)
    with pytest.raises(VideoError, match="is a folder"):
        VideoWriter(tmp_path)
    assert leftovers(tmp_path) == ["not_a_folder"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_videos_get_the_permissions_the_umask_gives_any_new_file(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        with VideoWriter(tmp_path / "out.mp4") as writer:
            writer.write(indexed_frames(2, 32, 32))
    finally:
        os.umask(previous)
    assert (tmp_path / "out.mp4").stat().st_mode & 0o777 == mode


def dead_pid() -> int:
    """The id of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_files_left_by_killed_writes_of_the_same_video_are_removed_by_the_next(tmp_path):
    killed = tmp_path / f".clip.{dead_pid()}.0a1b2c3d.partial.mp4"  # a write killed outright (SIGKILL)
    older = tmp_path / ".clip.x7_k2m9q.partial.mp4"  # tempfile's name, before the pid was recorded
    running = tmp_path / f".clip.{os.getpid()}.99aa88bb.partial.mp4"  # a write still going on
    others = [tmp_path / f".clip2.{dead_pid()}.0a1b2c3d.partial.mp4",  # another video's
              tmp_path / f".clip.{dead_pid()}.0a1b2c3d.partial.mov",  # another container's
              tmp_path / "clip.mp4.notes.txt"]
    for path in [killed, older, running, *others]:
        path.write_bytes(b"half a video")
    with VideoWriter(tmp_path / "clip.mp4") as writer:
        writer.write(indexed_frames(2, 32, 32))
    assert not killed.exists() and not older.exists()
    assert running.exists() and all(path.exists() for path in others)
    assert remove_stale_partials(tmp_path / "clip.mp4") == []


def test_missing_output_folders_are_created_by_the_writer_and_left_as_they_were_by_the_check(tmp_path):
    target = tmp_path / "results" / "today" / "clip.mp4"
    check_writable(target)
    assert leftovers(tmp_path) == []
    with VideoWriter(target) as writer:
        writer.write(indexed_frames(2, 32, 32))
    assert leftovers(target.parent) == ["clip.mp4"]


def test_reference_video_is_read_at_25_fps(media_dir):
    path = media_dir / "WDA_AlexandriaOcasioCortez_000.mp4"
    info = probe_video(path)
    assert (info.frame_count, info.fps, info.width, info.height, info.has_audio) == (200, 25.0, 512, 512, True)

    frames = iter_frames(path)
    first = next(frames)
    assert first.shape == (512, 512, 3) and first.dtype == np.uint8
    assert 1 + sum(1 for _ in frames) == 200
    audio = read_audio(path, sample_rate=16000, mono=True)
    assert audio.channels == 1 and audio.duration == pytest.approx(8.0, abs=0.07)


@pytest.mark.parametrize("source_fps", [50, 30, 20, 25])
def test_other_frame_rates_are_resampled_to_25(tmp_path, source_fps):
    """2 s at any rate -> 50 frames at 25 fps, each the source frame nearest in time."""
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=source_fps) as writer:
        writer.write(indexed_frames(2 * source_fps))

    assert probe_video(path).fps == source_fps
    assert [frame_index(f) for f in iter_frames(path, fps=25)] == [round(k * source_fps / 25) for k in range(50)]


@pytest.mark.parametrize("source_fps", [50, 30])
def test_without_a_rate_every_frame_comes_once_in_order_as_officially(tmp_path, source_fps):
    """The official code reads a reference video frame for frame, as if it were at 25 fps."""
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=source_fps) as writer:
        writer.write(indexed_frames(source_fps))
    assert [frame_index(f) for f in iter_frames(path)] == list(range(source_fps))


def test_audio_shape_errors_name_the_fix():
    with pytest.raises(VideoError, match="downmix or transpose"):
        AudioTrack(np.zeros((16000, 2), np.float32), 16000)


def test_unreadable_file_names_the_path(tmp_path):
    bad = tmp_path / "not_video.mp4"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(VideoError, match=str(bad)):
        probe_video(bad)
