"""Loss curves on disk: ``<run>/logs/train.csv`` always, TensorBoard events when the package is there.

The CSV has one row per logged step (``step``, ``seconds`` since the run started, then one
column per loss term, averaged over the logging interval and over all processes).  Resuming
drops rows past the checkpoint's step, so the file always holds one continuous curve.
"""
from __future__ import annotations

import csv
import time
import warnings
from collections.abc import Mapping
from pathlib import Path


def read_curve(path: Path) -> list[dict[str, float]]:
    """The rows of a ``train.csv`` as floats."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]


class MetricLogger:
    """Appends averaged loss values to the CSV (and TensorBoard when ``tensorboard`` and installed)."""

    def __init__(self, folder: Path, resume_step: int, tensorboard: bool) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "train.csv"
        self.columns: list[str] | None = None
        self.started = time.monotonic()
        if self.path.is_file():
            rows = [r for r in read_curve(self.path) if r["step"] <= resume_step]
            if rows:
                self.columns = [c for c in rows[0] if c not in ("step", "seconds")]
                self.started -= rows[-1].get("seconds", 0.0)
                self._write_all(rows)
            else:
                self.path.unlink()
        self.writer = self._tensorboard(folder) if tensorboard else None

    @staticmethod
    def _tensorboard(folder: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        try:
            return SummaryWriter(str(folder))
        except Exception as exc:  # a broken TensorBoard install must not stop training
            warnings.warn(f"TensorBoard logging disabled: {exc}", stacklevel=2)
            return None

    def _write_all(self, rows: list[dict[str, float]]) -> None:
        with open(self.path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, ["step", "seconds", *self.columns])
            writer.writeheader()
            for row in rows:
                writer.writerow({"step": int(row["step"]), **{k: v for k, v in row.items() if k != "step"}})

    def log(self, step: int, values: Mapping[str, float]) -> None:
        if self.columns is None:
            self.columns = sorted(values)
            with open(self.path, "w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerow(["step", "seconds", *self.columns])
        elapsed = time.monotonic() - self.started
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow([step, f"{elapsed:.3f}", *(repr(float(values.get(c, float("nan"))))
                                                                 for c in self.columns)])
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"train/{name}", value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
