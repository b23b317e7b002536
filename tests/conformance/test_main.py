"""The command line: ``python -m conformance --weights DIR [--media DIR]... GOLDEN...``."""
from __future__ import annotations

import shutil

from golden_files import variant

from conformance import load_golden
from conformance.__main__ import main


def test_media_folders_are_searched_and_failures_set_the_exit_status(goldens_dir, media_dir, tmp_path, capsys):
    """A golden whose meta names a picture found only in a ``--media`` folder passes with that
    folder and fails, naming the file, without it."""
    extra = tmp_path / "media"
    extra.mkdir()
    shutil.copy(media_dir / "full_body_1.png", extra / "only_here.png")
    golden = variant(load_golden(goldens_dir / "paste_pic.safetensors"), tmp_path / "paste.safetensors",
                     full_pic="media/only_here.png via cv2.imread (BGR)")
    assert main(["--weights", str(tmp_path), "--media", str(media_dir), "--media", str(extra), str(golden.path)]) == 0
    out = capsys.readouterr().out
    assert "ok   paste.safetensors [paste_pic]: 6 outputs compared" in out and "1 passed, 0 failed" in out

    assert main(["--weights", str(tmp_path), "--media", str(media_dir), str(golden.path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL paste.safetensors: FileNotFoundError: media file 'only_here.png' not found" in out


def test_uncompared_outputs_are_printed_as_failures(goldens_dir, media_dir, tmp_path, capsys):
    golden = variant(load_golden(goldens_dir / "paste_pic.safetensors"), tmp_path / "short.safetensors",
                     drop=("location",))
    assert main(["--weights", str(tmp_path), "--media", str(media_dir), str(golden.path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL short.safetensors [paste_pic]: 5 outputs compared" in out
    assert "FAIL location                         the golden lacks this output" in out
