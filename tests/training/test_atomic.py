"""Shards, targets, checkpoints and exports are written whole (or not at all), through
``sadtalker_core.io.atomic``, with the permissions the user's umask gives, not as private files."""
from __future__ import annotations

import contextlib
import os
import pickle
import stat
from collections.abc import Iterator

import numpy as np
import pytest
from torch import nn

from sadtalker_core.models import bundle_name
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
    for mask, expected in ((0o027, 0o640), (0o002, 0o664)):
        folder = tmp_path / f"umask_{mask:03o}"
        with umask(mask):
            write_shard(folder / "clips" / "a.safetensors", clip, {})
            Manifest(8, 25).save(folder)
            written = [folder / "clips" / "a.safetensors", folder / "manifest.json",
                       write_targets(folder / "targets", "a", np.zeros((frames, 64), np.float32)),
                       save_checkpoint(folder / "checkpoints" / "step.pt", 1, {"net": net}, {}, {}, {}),
                       write_official(folder / "export" / "mapping_00229-model.pth.tar",
                                      {"mapping": net.state_dict()}, epoch=1),
                       write_official(folder / "export" / bundle_name(256), {"audio2pose": net.state_dict()})]
        assert {path.name: mode(path) for path in written} == {path.name: expected for path in written}


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    net = nn.Linear(2, 2)
    save_checkpoint(tmp_path / "step.pt", 1, {"net": net}, {}, {}, {})
    before = (tmp_path / "step.pt").read_bytes()
    with pytest.raises((AttributeError, pickle.PicklingError), match="pickle"):  # a local function
        save_checkpoint(tmp_path / "step.pt", 2, {"net": net}, {}, {}, {"hook": lambda: None})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step.pt"]  # no partial file
    assert (tmp_path / "step.pt").read_bytes() == before  # the earlier checkpoint untouched
