"""What C libraries write straight to file descriptor 2 is caught inside the block, not shown."""
from __future__ import annotations

import os

import cv2

from sadtalker_core.cli.native_output import NativeStderr


def test_writes_to_file_descriptor_2_are_kept_as_lines_and_never_reach_the_terminal(capfd):
    with NativeStderr() as caught:
        os.write(2, b"libpng error: Read Error\n\n")
        os.write(2, b"[ WARN:0@0.024] global grfmt_png.cpp:834 read_chunk user chunk data is too large\n")
    os.write(2, b"after the block\n")
    assert caught.lines == ["libpng error: Read Error", "read_chunk user chunk data is too large"]
    assert caught.last == "read_chunk user chunk data is too large"
    assert capfd.readouterr().err == "after the block\n"


def test_a_real_decoder_complaint_is_caught(tmp_path, media_dir, capfd):
    png = (media_dir / "people_0.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    with NativeStderr() as caught:
        assert cv2.imread(str(tmp_path / "cut.png")) is None
    assert caught.last is not None and "libpng" in caught.last
    assert capfd.readouterr().err == ""


def test_nothing_written_gives_no_lines():
    with NativeStderr() as caught:
        pass
    assert caught.lines == [] and caught.last is None
