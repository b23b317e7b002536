"""Conformance against the official implementation: recompute golden files and compare.

``python -m conformance --weights DIR GOLDEN...`` (from the repository root).  Stage handlers live in the
``stages_*`` modules of this package and register themselves on import.
"""
from __future__ import annotations

import importlib
import pkgutil

from .compare import GoldenReport, OutputCheck, run_golden
from .golden import Golden, load_golden
from .registry import STAGES, StageContext, Tolerance


def load_stage_handlers() -> None:
    """Import every ``stages_*`` module so that its handlers are registered."""
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("stages_"):
            importlib.import_module(f"{__name__}.{module.name}")


load_stage_handlers()

__all__ = ["STAGES", "Golden", "GoldenReport", "OutputCheck", "StageContext", "Tolerance", "load_golden", "run_golden"]
