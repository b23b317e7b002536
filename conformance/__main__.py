"""CLI: recompute golden files with our implementation and report max errors.

Exit status 0 when every output of every golden is within tolerance (and every tensor of each
golden is accounted for, see ``compare``), 1 otherwise.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from sadtalker_core.precision import allow_tf32

from . import StageContext, load_golden, run_golden
from .fake_weights import ensure_fake_checkpoints

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
DEFAULT_GOLDENS = DATA / "goldens"
DEFAULT_MEDIA = DATA / "media"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__)
    parser.add_argument("--weights", required=True, type=Path, help="folder with the official checkpoint files")
    parser.add_argument("--fake-weights", action="store_true",
                        help="first write the fake checkpoints the goldens were made with into --weights "
                             "(files already there are kept); see conformance/fake_weights.py")
    parser.add_argument("--media", action="append", type=Path, default=None,
                        help=f"folder with the media files goldens name (repeatable; default {DEFAULT_MEDIA})")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--allow-tf32", action="store_true",
                        help="on CUDA, let float32 convolutions and matrix products use TF32 (PyTorch's default for "
                             "convolutions) to see what it changes; by default they compute in full float32")
    parser.add_argument("goldens", nargs="*", type=Path,
                        help=f"golden .safetensors files (default: every golden in {DEFAULT_GOLDENS})")
    args = parser.parse_args(argv)
    goldens = args.goldens or sorted(DEFAULT_GOLDENS.glob("*.safetensors"))
    if args.fake_weights:
        ensure_fake_checkpoints(args.weights)

    allow_tf32(args.allow_tf32)
    ctx = StageContext(args.weights, tuple(args.media or [DEFAULT_MEDIA]), torch.device(args.device))
    failed = 0
    for path in goldens:
        try:
            report = run_golden(load_golden(path), ctx)
        except Exception as exc:  # noqa: BLE001 - report and go on with the next golden
            print(f"FAIL {path.name}: {type(exc).__name__}: {exc}")
            failed += 1
            continue
        print(f"{'ok  ' if report.passed else 'FAIL'} {report.golden} [{report.stage}]: "
              f"{report.compared} output{'' if report.compared == 1 else 's'} compared")
        for check in report.checks:
            status = "ok  " if check.passed else "FAIL"
            if check.problem:
                print(f"    {status} {check.name:32s} {check.problem}")
            else:
                print(f"    {status} {check.name:32s} max abs err {check.max_abs_error:.3g}  "
                      f"limit {check.limit:.3g} ({check.tolerance})")
        failed += not report.passed
    total = len(goldens)
    print(f"{total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
