"""Manifests (CSV / JSONL), shards that split them with no coordination, what counts as a finished
clip, and the closing report.  (The ``generate-batch`` command itself is tested in test_cli.py.)"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sadtalker_core.cli.manifest import BatchReport, ManifestError, ManifestRow, Shard, is_complete_video, read_manifest
from sadtalker_core.errors import InputError
from sadtalker_core.io.audio import AudioTrack
from sadtalker_core.io.video_writer import VideoWriter


def test_a_csv_manifest_gives_one_row_per_line_with_paths_relative_to_its_folder(tmp_path):
    manifest = tmp_path / "jobs" / "clips.csv"
    manifest.parent.mkdir()
    manifest.write_text("image,audio,output,pose_style,still\n"
                        "faces/a.png,speech/a.wav,out/a.mp4,3,\n"
                        f"{tmp_path}/b.png,b.wav,out/b.mp4,,true\n")
    rows = read_manifest(manifest).rows
    folder = manifest.parent
    assert rows == [
        ManifestRow(2, folder / "faces/a.png", folder / "speech/a.wav", folder / "out/a.mp4", {"pose_style": "3"}),
        ManifestRow(3, tmp_path / "b.png", folder / "b.wav", folder / "out/b.mp4", {"still": "true"}),
    ]


def test_a_row_with_a_video_instead_of_an_image_is_a_dub_row(tmp_path):
    manifest = tmp_path / "clips.csv"
    manifest.write_text("image,video,audio,output,length\n"
                        "a.png,,a.wav,a.mp4,\n"
                        ",talks/b.mp4,b.wav,b.mp4,loop\n")
    picture, dub = read_manifest(manifest).rows
    assert dub == ManifestRow(3, None, tmp_path / "b.wav", tmp_path / "b.mp4", {"length": "loop"},
                              video=tmp_path / "talks/b.mp4")
    assert (picture.image, picture.video) == (tmp_path / "a.png", None)
    assert (picture.is_dub, dub.is_dub) == (False, True)


def test_a_jsonl_manifest_keeps_json_values_and_skips_blank_lines_and_nulls(tmp_path):
    manifest = tmp_path / "clips.jsonl"
    manifest.write_text(json.dumps({"image": "a.png", "audio": "a.wav", "output": "a.mp4", "input_yaw": [0, 30, -30],
                                    "still": True, "seed": None}) + "\n\n"
                        + json.dumps({"image": "b.png", "audio": "b.wav", "output": "b.mp4", "max_seconds": 1.5}) + "\n")
    loaded = read_manifest(manifest)
    assert [(row.line, row.output.name, row.options) for row in loaded.rows] == [
        (1, "a.mp4", {"input_yaw": [0, 30, -30], "still": True}),
        (3, "b.mp4", {"max_seconds": 1.5}),
    ]
    assert loaded.option_columns == {"input_yaw", "still", "max_seconds"}


@pytest.mark.parametrize("name, text, message", [
    ("m.csv", "image,audio\na.png,a.wav\n", r"m\.csv, line 2: no output; every row needs image or video, audio, output"),
    ("m.csv", "image,video,audio,output\na.png,,a.wav,a.mp4\n,,b.wav,b.mp4\n",
     r"m\.csv, line 3: no image or video; every row needs image or video, audio, output"),
    ("m.csv", "image,video,audio,output\na.png,,a.wav,a.mp4\nb.png,b.mp4,b.wav,o.mp4\n",
     r"m\.csv, line 3: both image and video; give image to animate a picture or video to dub a talking video, not both"),
    ("m.jsonl", '{"image": "a.png", "video": "a.mp4", "audio": "a.wav", "output": "o.mp4"}\n',
     r"m\.jsonl, line 1: both image and video"),
    ("m.csv", "image,audio,output\na.png,,a.mp4\n", r"line 2: no audio"),
    ("m.csv", "image,audio,output\na.png,a.wav,a.mp4,extra\n", r"line 2: more cells than the header has columns"),
    ("m.csv", "image,audio,output\n", r"m\.csv has no rows"),
    ("m.csv", "image,audio,output\na.png,a.wav,o.mp4\nb.png,b.wav,./o.mp4\n", r"lines 2 and 3 both write .*o\.mp4"),
    ("m.jsonl", '{"image": "a.png", "audio": "a.wav", "output": "a.mp4"}\n{"image": \n', r"m\.jsonl, line 2: not JSON"),
    ("m.jsonl", '["a.png", "a.wav", "a.mp4"]\n', r"line 1: expected a JSON object, got list"),
    ("m.txt", "image,audio,output\n", r"m\.txt: a manifest is a \.csv or \.jsonl or \.ndjson file"),
])
def test_a_malformed_manifest_is_refused_as_a_whole_naming_the_line(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ManifestError, match=message):
        read_manifest(tmp_path / name)


def test_a_missing_manifest_names_the_columns_it_needs(tmp_path):
    with pytest.raises(ManifestError, match=r"the manifest .*none\.csv does not exist; .*columns image or video, audio, output"):
        read_manifest(tmp_path / "none.csv")


def _rows(count: int) -> list[ManifestRow]:
    return [ManifestRow(line, Path("a.png"), Path("a.wav"), Path(f"{line}.mp4")) for line in range(count)]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_take_every_row_exactly_once_between_them_round_robin(count):
    rows = _rows(10)
    taken = [Shard(index, count).take(rows) for index in range(count)]
    assert sorted(row.line for part in taken for row in part) == list(range(10))
    assert [row.line for row in taken[0]] == list(range(0, 10, count))


def test_a_shard_is_written_k_slash_n_counting_from_0():
    assert Shard.parse("1/4") == Shard(1, 4) and str(Shard(1, 4)) == "1/4"
    for text in ("4/4", "1", "a/2", "-1/2", "0/0"):
        with pytest.raises(InputError, match=r"K/N|K from 0 to N - 1"):
            Shard.parse(text)


def test_torchruns_rank_and_world_size_name_the_shard():
    assert Shard.from_environment({"RANK": "2", "WORLD_SIZE": "3", "LOCAL_RANK": "0"}) == Shard(2, 3)
    assert Shard.from_environment({"LOCAL_RANK": "0"}) is None
    with pytest.raises(InputError, match="RANK=x and WORLD_SIZE=3"):
        Shard.from_environment({"RANK": "x", "WORLD_SIZE": "3"})


def _video(path: Path, audio: bool = True) -> Path:
    track = AudioTrack(np.zeros(1600, np.float32), 16000) if audio else None
    with VideoWriter(path, audio=track) as writer:
        writer.write(np.zeros((2, 32, 32, 3), np.uint8))
    return path


def test_a_complete_video_is_one_that_opens_with_frames_and_audio(tmp_path):
    complete = _video(tmp_path / "done.mp4")
    assert is_complete_video(complete)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(complete.read_bytes()[: complete.stat().st_size // 2])
    (tmp_path / "text.mp4").write_text("not a video")
    assert not is_complete_video(cut) and not is_complete_video(tmp_path / "text.mp4")
    assert not is_complete_video(_video(tmp_path / "silent.mp4", audio=False))
    assert not is_complete_video(tmp_path / "missing.mp4") and not is_complete_video(tmp_path)


def test_the_report_counts_each_outcome_and_lists_each_failed_row_with_its_error_in_manifest_order():
    rows = _rows(4)
    report = BatchReport(Path("clips.csv"), Shard(1, 2), rows=4, rendered=rows[:1], skipped=rows[1:2],
                         failed=[(rows[3], "the audio is empty"), (rows[2], "no face found in a.png")])
    assert report.summary() == [
        "clips.csv (shard 1/2): 4 rows, 1 rendered, 1 already complete, 2 failed",
        "  line 2 (2.mp4): no face found in a.png",
        "  line 3 (3.mp4): the audio is empty",
    ]
    assert BatchReport(Path("clips.csv"), Shard(), rows=0).summary() == [
        "clips.csv: 0 rows, 0 rendered, 0 already complete, 0 failed"]
