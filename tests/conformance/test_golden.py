"""Golden files: reading one, its stage, and the reference goldens the suite runs."""
from __future__ import annotations

import pytest
import torch
from golden_files import OUTPUTS_COMPARED, golden_stages, write_golden

from conformance import STAGES, load_golden
from sadtalker_core.checkpoints import CheckpointError


def test_every_reference_golden_has_a_handler_and_a_pinned_output_count(goldens_dir):
    stages = golden_stages()
    assert set(stages) == set(OUTPUTS_COMPARED)  # a new golden needs its output count pinned here
    assert set(stages.values()) == set(STAGES)  # and every handler has a golden to be judged on


def test_meta_and_tensors_are_read(tmp_path):
    golden = load_golden(write_golden(tmp_path / "g.safetensors", {"x": torch.arange(3)},
                                      {"stage": "mappingNet", "checkpoint": "mapping_00229-model.pth.tar"}))
    assert golden.stage == "mapping" and golden.checkpoint_names() == ["mapping_00229-model.pth.tar"]
    assert golden["x"].tolist() == [0, 1, 2]
    with pytest.raises(KeyError, match="g.safetensors: golden has no tensor 'y'"):
        _ = golden["y"]


def test_unknown_stage_and_non_golden_files_are_refused(tmp_path):
    golden = load_golden(write_golden(tmp_path / "g.safetensors", {"x": torch.zeros(1)}, {"stage": "teleport"}))
    with pytest.raises(ValueError, match="unknown golden stage 'teleport'"):
        _ = golden.stage
    (tmp_path / "junk.safetensors").write_bytes(b"not a golden")
    with pytest.raises(CheckpointError, match="cannot read golden file"):
        load_golden(tmp_path / "junk.safetensors")
