"""Compare recomputed outputs with a golden's, output by output, within tolerances.

Every tensor of the golden is accounted for: an output the stage declares is compared, an input
it declares is read; anything else fails, as does an output the golden lacks, one the handler
computed without a registered tolerance, one it should have computed but did not, and a tensor
the handler read without the stage declaring it as an input (a value taken from the golden,
even part of an output, is then visible in the registration).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .golden import Golden
from .registry import STAGES, Stage, StageContext, Tolerance


@dataclass(frozen=True)
class OutputCheck:
    """One output's result: max |ours - golden| against its allowed limit, or why it could not be compared."""

    name: str
    max_abs_error: float
    limit: float
    tolerance: Tolerance | None
    problem: str = ""

    @property
    def passed(self) -> bool:
        return not self.problem and self.max_abs_error <= self.limit


@dataclass(frozen=True)
class GoldenReport:
    golden: str
    stage: str
    checks: tuple[OutputCheck, ...]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def compared(self) -> int:
        """How many outputs were actually compared with the golden (passed or not)."""
        return sum(not c.problem for c in self.checks)

    def failures(self) -> list[str]:
        """One line per failed check."""
        return [f"{c.name}: {c.problem or f'max abs err {c.max_abs_error:.3g} > {c.limit:.3g} ({c.tolerance})'}"
                for c in self.checks if not c.passed]


def _as_tensor(value) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    return torch.as_tensor(value).detach().cpu()


def _unchecked(name: str, problem: str, tolerance: Tolerance | None = None) -> OutputCheck:
    return OutputCheck(name, float("inf"), 0.0, tolerance, problem)


def check_output(name: str, ours, golden: torch.Tensor, tolerance: Tolerance) -> OutputCheck:
    ours_t = _as_tensor(ours)
    limit = tolerance.limit(golden.double())
    if tuple(ours_t.shape) != tuple(golden.shape):
        return OutputCheck(name, float("inf"), limit, tolerance,
                           f"shape {tuple(ours_t.shape)} != golden {tuple(golden.shape)}")
    if golden.numel() == 0:
        return OutputCheck(name, 0.0, limit, tolerance)
    err = float((ours_t.double() - golden.double()).abs().max())
    if math.isnan(err):
        return OutputCheck(name, float("nan"), limit, tolerance, "NaN in output")
    return OutputCheck(name, err, limit, tolerance)


def judge(stage: Stage, golden: Golden, outputs: dict) -> tuple[OutputCheck, ...]:
    """The checks of one golden: every computed output and every golden tensor, in golden order,
    then every tensor the handler read without declaring it."""
    checks = []
    for name, value in outputs.items():
        tolerance = stage.tolerance(name)
        if tolerance is None:
            checks.append(_unchecked(name, f"computed, but stage '{stage.name}' registers no tolerance for it"))
        elif name not in golden.tensors:
            checks.append(_unchecked(name, "the golden lacks this output", tolerance))
        else:
            checks.append(check_output(name, value, golden.tensors[name], tolerance))
    for name in golden.tensors:
        if name in outputs:
            continue
        tolerance = stage.tolerance(name)
        if tolerance is not None:
            checks.append(_unchecked(name, "an output of the golden that the handler did not compute", tolerance))
        elif not stage.reads(name):
            checks.append(_unchecked(name, f"neither an input nor an output of stage '{stage.name}': unchecked"))
    for name in sorted(golden.read):
        if not stage.reads(name):
            checks.append(_unchecked(name, f"read from the golden, but not declared as an input of stage '{stage.name}'"))
    return tuple(checks)


def run_golden(golden: Golden, ctx: StageContext) -> GoldenReport:
    """Recompute ``golden`` with its stage handler and judge every output."""
    stage = STAGES.get(golden.stage)
    if stage is None:
        raise KeyError(f"{golden.path.name}: no handler for stage '{golden.stage}' (have: {', '.join(sorted(STAGES))})")
    golden.read.clear()
    with torch.inference_mode():
        outputs = dict(stage.handler(golden, ctx))
    return GoldenReport(golden.path.name, stage.name, judge(stage, golden, outputs))
