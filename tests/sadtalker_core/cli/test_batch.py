"""``generate-batch`` with dub rows: a row giving a ``video`` instead of an ``image`` is dubbed as
``sadtalker dub`` does, with ``dub``'s options as its columns, sharing the models the process
loaded once with the picture rows; its output is written whole or not at all, so a rerun skips it.
(Picture rows, shards and the report: test_cli.py and test_manifest.py.)"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from sadtalker_core.cli import arguments, batch, main
from sadtalker_core.cli.manifest import read_manifest
from sadtalker_core.cli.parser import build_parser
from sadtalker_core.io.audio import read_audio
from sadtalker_core.io.video_reader import probe_video


def run(*argv: str | Path) -> tuple[int, str, str]:
    """``main(argv)`` -> (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in argv])
    return code, out.getvalue(), err.getvalue()


def _batch_args(*options: str):
    return build_parser().parse_args(["generate-batch", "clips.csv", "--checkpoints", "models", *options])


def _rows(tmp_path: Path, text: str, name: str = "clips.csv"):
    (tmp_path / name).write_text(text)
    manifest = read_manifest(tmp_path / name)
    return manifest, manifest.rows


def test_a_dub_row_takes_dubs_defaults_its_columns_and_only_the_batchs_process_options(tmp_path):
    args = _batch_args("--size", "512", "--max-seconds", "2", "--paste", "seamless", "--preprocess", "crop",
                       "--device", "cpu", "--quiet")
    manifest, (picture, dub, tuned) = _rows(tmp_path, "image,video,audio,output,length,preprocess,expression_scale\n"
                                                      "a.png,,a.wav,a.mp4,,,\n"
                                                      ",talk.mp4,b.wav,b.mp4,,,\n"
                                                      ",talk.mp4,c.wav,c.mp4,loop,extfull,1.5\n")
    picture_args, dub_args, tuned_args = (batch.row_arguments(args, manifest, row) for row in (picture, dub, tuned))
    assert (picture_args.command, picture_args.image, picture_args.preprocess, picture_args.paste) == (
        "generate", tmp_path / "a.png", "crop", "seamless")
    assert (dub_args.command, dub_args.video, dub_args.audio, dub_args.out) == (
        "dub", tmp_path / "talk.mp4", tmp_path / "b.wav", tmp_path / "b.mp4")
    # dub's own defaults, not the batch's picture options ...
    assert (dub_args.length, dub_args.preprocess, dub_args.paste, dub_args.batch_size) == ("pingpong", "full",
                                                                                          "feather", 0)
    # ... but what the process loads, and how much of the speech, from the batch
    assert (dub_args.size, dub_args.device, dub_args.quiet, dub_args.max_seconds, dub_args.checkpoints) == (
        512, "cpu", True, 2.0, Path("models"))
    assert (tuned_args.length, tuned_args.preprocess, tuned_args.expression_scale) == ("loop", "extfull", 1.5)
    assert not hasattr(dub_args, "pose_style")  # generate's options are not a dub's


@pytest.mark.parametrize("line, message", [
    ({"video": "v.mp4", "pose_style": 3}, ("column pose_style does not apply to a dub row (video); it takes any of: "
                                           "batch_size, crop_landmarks, expression_scale, face_index, face_order, "
                                           "length, max_seconds, paste, preprocess")),
    ({"image": "a.png", "length": "loop"}, "column length does not apply to a picture row (image)"),
    ({"video": "v.mp4", "preprocess": "crop"}, "argument --preprocess: invalid choice: 'crop'"),
    ({"video": "v.mp4", "length": "forever"}, "argument --length: invalid choice: 'forever'"),
    ({"video": "v.mp4", "batch_size": -1}, "argument --batch-size: expected a whole number of at least 0, got '-1'"),
])
def test_a_column_a_row_of_its_kind_does_not_take_or_a_bad_dub_value_is_that_rows_error(tmp_path, line, message):
    manifest, (row,) = _rows(tmp_path, json.dumps({**line, "audio": "a.wav", "output": "o.mp4"}) + "\n", "clips.jsonl")
    with pytest.raises(arguments.ArgumentsError) as info:
        batch.row_arguments(_batch_args(), manifest, row)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("sources, message", [
    ("a.png,talk.mp4", ("line 3: both image and video; give image to animate a picture or video to dub a talking "
                        "video, not both")),
    (",", "line 3: no image or video; every row needs image or video, audio, output"),
])
def test_a_row_with_both_an_image_and_a_video_or_neither_stops_the_batch_naming_its_line(tmp_path, sources, message):
    (tmp_path / "clips.csv").write_text(f"image,video,audio,output\na.png,,a.wav,a.mp4\n{sources},b.wav,b.mp4\n")
    code, out, err = run("generate-batch", tmp_path / "clips.csv", "--checkpoints", tmp_path, "--quiet")
    assert (code, out) == (2, "")
    assert err == f"error: {tmp_path / 'clips.csv'}, {message}\n"
    assert list(tmp_path.iterdir()) == [tmp_path / "clips.csv"]


def test_a_missing_video_fails_its_row_before_anything_loads(tmp_path):
    (tmp_path / "clips.csv").write_text("video,audio,output\nnone.mp4,none.wav,o.mp4\n")
    code, out, err = run("generate-batch", tmp_path / "clips.csv", "--checkpoints", tmp_path / "no models", "--quiet")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == f"  line 2 ({tmp_path / 'o.mp4'}): --video {tmp_path / 'none.mp4'}: no such file"


def test_a_picture_row_and_a_dub_row_share_the_models_and_a_rerun_skips_both(checkpoints, media_dir, talking_video,
                                                                              tmp_path, monkeypatch):
    """A picture row of 1 frame (0.04 s of speech) and a dub of a 4-frame 384 x 320 talking video
    with 0.12 s of speech: 3 frames at the video's size and 25 fps, with the speech's audio."""
    speech = media_dir / "RD_Radio31_000.wav"
    (tmp_path / "clips.csv").write_text("image,video,audio,output,max_seconds,length\n"
                                        f"{media_dir / 'people_0.png'},,{speech},out/picture.mp4,0.04,\n"
                                        f",{talking_video},{speech},out/dub.mp4,0.12,cut\n")
    loads = []
    load_engine = batch.load_engine
    monkeypatch.setattr(batch, "load_engine", lambda *args: loads.append(args) or load_engine(*args))
    out = tmp_path / "out"

    code, stdout, stderr = run("generate-batch", tmp_path / "clips.csv", "--checkpoints", checkpoints,
                               "--device", "cpu", "--seed", "0", "--quiet")
    assert code == 0, stderr
    assert stdout.splitlines()[1] == f"{out / 'dub.mp4'}: 3 frames, 384x320, 25 fps"
    assert stdout.splitlines()[0].startswith(f"{out / 'picture.mp4'}: 1 frames, ")
    assert stderr.splitlines()[-1] == f"{tmp_path / 'clips.csv'}: 2 rows, 2 rendered, 0 already complete, 0 failed"
    assert len(loads) == 1
    assert sorted(path.name for path in out.iterdir()) == ["dub.mp4", "picture.mp4"]  # no temporary file left
    info = probe_video(out / "dub.mp4")
    assert (info.frame_count, info.fps, info.width, info.height) == (3, 25.0, 384, 320)
    audio = read_audio(out / "dub.mp4")
    assert abs(audio.samples.shape[1] / audio.sample_rate - 0.12) < 0.03
    assert probe_video(out / "picture.mp4").frame_count == 1
    finished = {path.name: path.stat().st_mtime_ns for path in out.iterdir()}

    code, stdout, stderr = run("generate-batch", tmp_path / "clips.csv", "--checkpoints", checkpoints, "--quiet")
    assert code == 0
    assert stdout == f"{out / 'picture.mp4'}: already complete, skipped\n{out / 'dub.mp4'}: already complete, skipped\n"
    assert stderr.splitlines()[-1] == f"{tmp_path / 'clips.csv'}: 2 rows, 0 rendered, 2 already complete, 0 failed"
    assert len(loads) == 1  # nothing to render: nothing loaded
    assert {path.name: path.stat().st_mtime_ns for path in out.iterdir()} == finished
