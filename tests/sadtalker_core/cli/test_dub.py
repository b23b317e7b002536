"""``sadtalker dub``: a talking video in, the same video with the mouth following new speech out,
at the video's size and frame rate, as long as the speech."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from sadtalker_core.cli import main
from sadtalker_core.dub import video_rate
from sadtalker_core.cli.parser import LENGTH_POLICIES, build_parser
from sadtalker_core.errors import InputError
from sadtalker_core.io.audio import read_audio
from sadtalker_core.io.video_reader import iter_frames, probe_video
from sadtalker_core.io.video_writer import VideoWriter
from sadtalker_core.motion.audio import DEFAULT_AUDIO, load_wav
from sadtalker_core.motion.length import LengthPolicy


def test_the_length_choices_are_the_librarys():
    assert LENGTH_POLICIES == tuple(policy.value for policy in LengthPolicy)


def test_the_defaults_are_ping_pong_full_and_feather():
    args = build_parser().parse_args(["dub", "--video", "v.mp4", "--audio", "a.wav", "--out", "o.mp4",
                                      "--checkpoints", "m"])
    assert (args.length, args.preprocess, args.paste, args.face_order) == ("pingpong", "full", "feather", "score")


def test_a_face_only_preprocess_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dub", "--video", "v.mp4", "--audio", "a.wav", "--out", "o.mp4",
                                   "--checkpoints", "m", "--preprocess", "crop"])
    assert "invalid choice: 'crop'" in capsys.readouterr().err


def test_the_videos_rate_is_kept_whole():
    assert video_rate(29.97, "v.mp4") == 30 and video_rate(25.0, "v.mp4") == 25
    with pytest.raises(InputError, match="no frame rate"):
        video_rate(0.0, "v.mp4")


def test_a_missing_video_is_one_error_line(tmp_path, capsys):
    code = main(["dub", "--video", str(tmp_path / "none.mp4"), "--audio", str(tmp_path / "none.wav"),
                 "--out", str(tmp_path / "o.mp4"), "--checkpoints", str(tmp_path), "--quiet"])
    assert code == 2 and capsys.readouterr().err.strip() == f"error: --video {tmp_path / 'none.mp4'}: no such file"


def test_a_dub_has_the_videos_size_and_rate_and_lasts_as_long_as_the_speech(checkpoints, media_dir, tmp_path, capsys):
    """Four frames of the talking video at 25 fps, 0.12 s of speech: three frames, 0.12 s of audio,
    at the video's 512 x 512; the face region is rendered (fake weights: noise), the rest is the video's
    own within codec noise (exactly, before encoding: tests/sadtalker_core/test_dub.py)."""
    video = tmp_path / "four.mp4"
    source = []
    for frame in iter_frames(media_dir / "WDA_AlexandriaOcasioCortez_000.mp4"):
        source.append(frame)
        if len(source) == 4:
            break
    with VideoWriter(video, fps=25) as writer:
        writer.write(np.stack(source))
    speech = tmp_path / "speech.wav"
    soundfile.write(speech, load_wav(media_dir / "RD_Radio31_000.wav")[:round(0.12 * DEFAULT_AUDIO.sample_rate)],
                    DEFAULT_AUDIO.sample_rate)
    out = tmp_path / "dubbed.mp4"
    code = main(["dub", "--video", str(video), "--audio", str(speech), "--out", str(out),
                 "--checkpoints", str(checkpoints), "--device", "cpu", "--quiet"])
    assert code == 0 and capsys.readouterr().out.strip() == f"{out}: 3 frames, 512x512, 25 fps"
    info = probe_video(out)
    assert (info.frame_count, info.fps, info.width, info.height) == (3, 25.0, 512, 512)
    audio = read_audio(out)
    assert abs(audio.samples.shape[1] / audio.sample_rate - 0.12) < 0.03
    dubbed = list(iter_frames(out))
    inputs = list(iter_frames(video))
    for frame, original in zip(dubbed, inputs):
        changed = np.abs(frame.astype(int) - original).max(axis=2) > 12
        assert 0.3 < changed.mean() < 0.97  # this close-up's paste box covers most, not all, of the frame
