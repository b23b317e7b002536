"""Judging a golden: every tensor is accounted for, every computed output is compared."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conformance import Golden
from conformance.compare import check_output, judge
from conformance.registry import EXACT, Stage, Tolerance

STAGE = Stage("toy", handler=lambda golden, ctx: {}, inputs=("picture", "*_lm"),
              outputs={"box": EXACT, "*_score": Tolerance(abs=0.1)})


def _golden(**tensors: torch.Tensor) -> Golden:
    return Golden(Path("toy.safetensors"), tensors, {"stage": "toy"})


def _problems(golden: Golden, outputs: dict) -> dict[str, str]:
    return {c.name: c.problem for c in judge(STAGE, golden, outputs)}


def test_every_output_is_compared_within_its_tolerance():
    golden = _golden(picture=torch.zeros(2), a_lm=torch.zeros(2), box=torch.tensor([1, 2]),
                     a_score=torch.tensor([0.5]), b_score=torch.tensor([0.5]))
    checks = judge(STAGE, golden, {"box": np.array([1, 2]), "a_score": torch.tensor([0.55]),
                                   "b_score": torch.tensor([0.7])})
    assert [(c.name, c.passed) for c in checks] == [("box", True), ("a_score", True), ("b_score", False)]
    assert not any(c.problem for c in checks)
    assert checks[2].max_abs_error == pytest.approx(0.2)


def test_an_output_the_golden_lacks_fails():
    problems = _problems(_golden(box=torch.tensor([1, 2])), {"box": np.array([1, 2]), "a_score": torch.ones(1)})
    assert problems == {"box": "", "a_score": "the golden lacks this output"}


def test_an_output_computed_without_a_tolerance_fails():
    problems = _problems(_golden(box=torch.tensor([1, 2])), {"box": np.array([1, 2]), "extra": torch.ones(1)})
    assert "registers no tolerance" in problems["extra"]


def test_a_golden_output_not_computed_fails():
    problems = _problems(_golden(box=torch.tensor([1, 2]), a_score=torch.ones(1)), {"box": np.array([1, 2])})
    assert "did not compute" in problems["a_score"]


def test_a_golden_tensor_neither_read_nor_compared_fails_and_inputs_pass():
    golden = _golden(picture=torch.zeros(2), face_lm=torch.zeros(2), note=torch.zeros(1), box=torch.tensor([1, 2]))
    problems = _problems(golden, {"box": np.array([1, 2])})
    assert set(problems) == {"box", "note"} and "neither an input nor an output" in problems["note"]


def test_shape_mismatch_and_nan_fail():
    assert "shape" in check_output("x", torch.zeros(3), torch.zeros(2), EXACT).problem
    nan = check_output("x", torch.tensor([float("nan")]), torch.zeros(1), Tolerance(abs=1.0))
    assert not nan.passed and nan.problem == "NaN in output"


def test_relative_tolerance_scales_with_the_golden():
    check = check_output("x", torch.tensor([101.0]), torch.tensor([100.0]), Tolerance(rel=0.02))
    assert check.limit == pytest.approx(2.0) and check.passed


def test_a_value_read_from_the_golden_must_be_declared_as_an_input():
    """Reading part of an output (its length, its last values) is allowed only where the stage says so."""
    golden = _golden(picture=torch.zeros(2), box=torch.tensor([1, 2]), b_score=torch.ones(1))
    golden["picture"], golden["b_score"]  # noqa: B018 - a handler's reads
    checks = judge(STAGE, golden, {"box": np.array([1, 2]), "b_score": torch.ones(1)})
    undeclared = [c for c in checks if c.problem.startswith("read from the golden")]
    assert [c.name for c in undeclared] == ["b_score"] and not undeclared[0].passed
    assert "'toy'" in undeclared[0].problem and all(c.passed for c in checks if c not in undeclared)
