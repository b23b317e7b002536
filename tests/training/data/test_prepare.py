"""Data preparation: videos -> per-clip shards of face crops, 3DMM coefficients and mel windows,
a manifest with skipped files and reasons, resumable reruns."""
from __future__ import annotations

import os
import shutil
import stat

import numpy as np
import pytest

from sadtalker_core.io.audio import read_audio
from sadtalker_core.motion.audio import audio_features
from training.data.prepare import CropBox, PrepareConfig, clip_crop_box, fill_missing, main, prepare
from training.data.shards import ClipShard, Manifest, PreparedData


def test_manifest_lists_the_clips_and_why_the_rest_were_skipped(prepared):
    manifest = Manifest.load(prepared)
    assert [(c.clip_id, c.speaker, c.frames) for c in manifest.clips] == [("spk_a__clip", "spk_a", 34),
                                                                           ("spk_b__clip", "spk_b", 34)]
    assert {s.source: s.reason for s in manifest.skipped} == {
        "bad/no_audio.mp4": "no audio", "bad/no_face.mp4": "no face", "bad/too_short.mp4": "too short"}


def test_shards_hold_crops_coefficients_landmarks_and_the_inference_mel_windows(prepared, video_folder):
    shard = PreparedData(prepared).shards[0]
    frames = shard.frames(range(shard.num_frames))
    assert frames.shape == (34, 256, 256, 3) and frames.dtype == np.uint8
    assert (shard.encoded, shard.metadata["frame_codec"], shard.metadata["jpeg_quality"]) == (True, "jpeg", "95")
    coeffs, full = shard.array("coeffs"), shard.array("coeffs_full")
    assert coeffs.shape == (34, 73) and full.shape == (34, 257) and np.isfinite(coeffs).all()
    # the 73-d vector is SadTalker's: expression, angles, translation of the full output + alignment
    np.testing.assert_array_equal(coeffs[:, :70], np.concatenate([full[:, 80:144], full[:, 224:227], full[:, 254:257]], 1))
    wav = read_audio(video_folder / "spk_a" / "clip.mp4", 16000, mono=True).samples[0]
    np.testing.assert_array_equal(shard.array("mels"), audio_features(wav).frame_mels[:34])


def test_crop_is_fixed_per_clip_and_centred_on_the_face(prepared):
    landmarks = PreparedData(prepared).shards[0].array("landmarks")
    assert landmarks.shape == (34, 68, 2)
    low, high = landmarks.reshape(-1, 2).min(0), landmarks.reshape(-1, 2).max(0)
    assert (low > 0).all() and (high < 256).all()
    # the union of the face boxes spans 1 / crop_scale of the crop, centred (raised by 10 %)
    assert max(high - low) == pytest.approx(256 / PrepareConfig.crop_scale, rel=0.02)
    assert (low + high)[0] / 2 == pytest.approx(128, abs=2)


def test_crop_box_pads_outside_the_frame_and_maps_landmarks():
    frame = np.full((10, 10, 3), 200, np.uint8)
    box = CropBox(x=-5, y=0, side=10)
    cut = box.cut(frame, 10)
    assert (cut[:, :5] == 0).all() and (cut[:, 5:] == 200).all()
    np.testing.assert_allclose(box.to_crop(np.array([[0.0, 0.0], [5.0, 5.0]]), 20), [[10, 0], [20, 10]])
    lm = np.zeros((2, 68, 2), np.float32)
    lm[0, :, 0], lm[1, :, 0] = np.linspace(10, 30, 68), np.linspace(20, 40, 68)
    lm[:, :, 1] = np.linspace(0, 20, 68)
    square = clip_crop_box(lm, scale=2.0)
    assert square.side == 60 and (square.x, square.y) == (-5, -22)


def test_missing_faces_take_the_previous_frames_landmarks():
    a, b = np.zeros((68, 2)), np.ones((68, 2))
    filled = fill_missing([None, a, None, b, None])
    np.testing.assert_array_equal(filled, np.stack([a, a, a, b, b]))


def test_rerun_redoes_only_missing_clips(prepared, video_folder, recon_checkpoint, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(prepared, copy)
    kept, removed = copy / "clips" / "spk_a__clip.safetensors", copy / "clips" / "spk_b__clip.safetensors"
    kept_time = kept.stat().st_mtime_ns
    removed.unlink()
    manifest = prepare(video_folder, copy, PrepareConfig(recon=str(recon_checkpoint)), workers=1, progress=False)
    assert manifest == Manifest.load(prepared)
    assert kept.stat().st_mtime_ns == kept_time
    umask = os.umask(0o022)
    os.umask(umask)  # read back: the process's umask
    for path in (removed, copy / "manifest.json"):  # the mode open() gives with the user's umask, not private
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    np.testing.assert_array_equal(ClipShard(removed).array("coeffs"), ClipShard(prepared / "clips" / removed.name).array("coeffs"))


def test_command_line_reports_skipped_videos(video_folder, recon_checkpoint, tmp_path, capsys):
    only = tmp_path / "videos"
    shutil.copytree(video_folder / "bad", only, ignore=shutil.ignore_patterns("no_face*", "too_short*"))
    assert main([str(only), str(tmp_path / "out"), "--recon", str(recon_checkpoint)]) == 0
    printed = capsys.readouterr().out
    assert "0 clips prepared, 1 skipped" in printed and "no_audio.mp4: no audio" in printed


def test_command_line_names_a_mistake_in_one_line(video_folder, recon_checkpoint, tmp_path, capsys):
    for args, expected in (([str(tmp_path / "absent"), str(tmp_path / "out"), "--recon", str(recon_checkpoint)],
                            f"error: video folder {tmp_path / 'absent'} does not exist"),
                           ([str(video_folder), str(tmp_path / "out"), "--recon", str(tmp_path / "epoch_20.pth")],
                            f"error: recon net {tmp_path / 'epoch_20.pth'} not found; give")):
        assert main(args) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(expected)
    assert not (tmp_path / "out").exists()
