"""The one atomic write: a file appears under its name complete or not at all."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sadtalker_core.io.atomic import AtomicFile, partial_path, remove_stale_partials, unique_partial, write_atomically


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_block_that_ends_normally_moves_the_partial_file_into_place(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with AtomicFile(target) as file:
        file.partial.write_bytes(b"new")
        assert file.partial == tmp_path / "a.bin.partial" and target.read_bytes() == b"old"
    assert names(tmp_path) == ["a.bin"] and target.read_bytes() == b"new"


def test_an_error_in_the_block_removes_the_partial_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), AtomicFile(target) as file:
        file.partial.write_bytes(b"half")
        raise KeyboardInterrupt
    assert names(tmp_path) == ["a.bin"] and target.read_bytes() == b"old"


def test_keep_on_error_leaves_the_partial_file_to_resume_from_and_discard_removes_it(tmp_path):
    target = tmp_path / "model.pth"
    with pytest.raises(OSError), AtomicFile(target, partial_path(target, ".part"), keep_on_error=True) as file:
        file.partial.write_bytes(b"first half")
        raise OSError("connection reset")
    assert names(tmp_path) == ["model.pth.part"]
    file.discard()
    assert names(tmp_path) == []


def test_write_atomically_hands_an_open_file_and_leaves_nothing_when_the_writer_fails(tmp_path):
    target = tmp_path / "motion.npz"
    assert write_atomically(target, lambda handle: handle.write(b"data")) == target
    assert target.read_bytes() == b"data"

    def failing(handle):
        handle.write(b"partial")
        raise ValueError("the writer broke")

    with pytest.raises(ValueError, match="the writer broke"):
        write_atomically(target, failing)
    assert names(tmp_path) == ["motion.npz"] and target.read_bytes() == b"data"


def test_unique_partials_are_hidden_distinct_and_only_dead_processes_ones_are_removed(tmp_path):
    target = tmp_path / "out" / "clip.mp4"
    first, second = unique_partial(target), unique_partial(target)  # the folder is created
    assert first != second and first.name.startswith(f".clip.{os.getpid()}.") and first.name.endswith(".partial.mp4")
    dead = target.with_name(".clip.999999999.0badcafe.partial.mp4")  # no such process
    dead.touch()
    assert remove_stale_partials(target) == [dead]
    assert names(target.parent) == sorted([first.name, second.name])  # this process's are kept


def test_a_folder_where_no_file_can_be_created_is_an_error_not_an_endless_retry():
    with pytest.raises(OSError, match="no file can be created in /proc"):
        unique_partial("/proc/x.mp4")
