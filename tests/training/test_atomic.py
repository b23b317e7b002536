"""Shards, targets, checkpoints and exports are written whole (or not at all) with the permissions
the user's umask gives, not as private files."""
from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator

import numpy as np
import pytest
from torch import nn

from sadtalker_core.models import bundle_name
from training.atomic import user_file_mode, write_atomically
from training.data.shards import ClipData, Manifest, write_shard
from training.data.teacher import write_targets
from training.export import write_official
from training.run.checkpointing import save_checkpoint


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_every_training_file_gets_the_umask_mode(tmp_path):
    frames = 2
    clip = ClipData(np.zeros((frames, 8, 8, 3), np.uint8), np.zeros((frames, 73), np.float32),
                    np.zeros((frames, 257), np.float32), np.zeros((frames, 68, 2), np.float32),
                    np.zeros((frames, 80, 16), np.float32))
    net = nn.Linear(2, 2)
    with umask(0o027):
        assert user_file_mode() == 0o640
        write_shard(tmp_path / "clips" / "a.safetensors", clip, {})
        Manifest(8, 25).save(tmp_path)
        written = [tmp_path / "clips" / "a.safetensors", tmp_path / "manifest.json",
                   write_targets(tmp_path / "targets", "a", np.zeros((frames, 64), np.float32)),
                   save_checkpoint(tmp_path / "step.pt", 1, {"net": net}, {}, {}, {}),
                   write_official(tmp_path / "export" / "mapping_00229-model.pth.tar", {"mapping": net.state_dict()},
                                  epoch=1),
                   write_official(tmp_path / "export" / bundle_name(256), {"audio2pose": net.state_dict()})]
    assert {path.name: mode(path) for path in written} == {path.name: 0o640 for path in written}
    with umask(0o002):
        assert mode(write_atomically(tmp_path / "b", lambda p: p.write_text("x"))) == 0o664


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    def broken(partial):
        partial.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(tmp_path / "shard.safetensors", broken)
    assert list(tmp_path.iterdir()) == []
