"""Compare recomputed outputs with a golden's, output by output, within tolerances."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .golden import Golden
from .registry import STAGES, StageContext, Tolerance


@dataclass(frozen=True)
class OutputCheck:
    """One output's result: max |ours - golden| against its allowed limit."""

    name: str
    max_abs_error: float
    limit: float
    tolerance: Tolerance
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


def _as_tensor(value) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    return torch.as_tensor(value).detach().cpu()


def check_output(name: str, ours, golden: torch.Tensor, tolerance: Tolerance) -> OutputCheck:
    ours_t = _as_tensor(ours)
    limit = tolerance.limit(golden.double())
    if tuple(ours_t.shape) != tuple(golden.shape):
        return OutputCheck(name, float("inf"), limit, tolerance,
                           f"shape {tuple(ours_t.shape)} != golden {tuple(golden.shape)}")
    if golden.numel() == 0:
        return OutputCheck(name, 0.0, limit, tolerance)
    err = float((ours_t.double() - golden.double()).abs().max())
    if err != err:  # NaN
        return OutputCheck(name, float("nan"), limit, tolerance, "NaN in output")
    return OutputCheck(name, err, limit, tolerance)


def run_golden(golden: Golden, ctx: StageContext) -> GoldenReport:
    """Recompute ``golden`` with its stage handler and compare every toleranced output."""
    stage = STAGES.get(golden.stage)
    if stage is None:
        raise KeyError(f"{golden.path.name}: no handler for stage '{golden.stage}' (have: {', '.join(sorted(STAGES))})")
    with torch.inference_mode():
        outputs = stage.handler(golden, ctx)
    checks = []
    for name, tol in stage.tolerances.items():
        if name not in golden.tensors:
            continue  # goldens of another generation may store fewer outputs
        if name not in outputs:
            checks.append(OutputCheck(name, float("inf"), 0.0, tol, "handler did not compute it"))
            continue
        checks.append(check_output(name, outputs[name], golden.tensors[name], tol))
    return GoldenReport(golden.path.name, stage.name, tuple(checks))
