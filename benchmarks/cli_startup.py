"""How fast the command line answers ``--help`` and a bad argument: each a fresh process, timed wall.

    python benchmarks/cli_startup.py [--rounds 5] [--compare-with REV] [--json OUT.json] [--markdown OUT.md]

Every case runs ``python -m sadtalker_core ...`` from the checkout (or, with ``--compare-with``,
also from an export of git revision REV, e.g. the commit before the lazy imports), in interleaved
rounds so that load changes hit every case alike; reported are the median and range of the rounds,
the exit status and the number of stderr lines, next to the interpreter's own start-up
(``python -c pass``) and ``import torch`` for scale.  No model file is needed: every case stops
at the arguments.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from report import add_output_options, report

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / "tests" / "data" / "media"

CASES = {
    "--help": ["--help"],
    "generate --help": ["generate", "--help"],
    "generate --pose-style 46": ["--pose-style", "46"],
    "generate --batch-size 0": ["--batch-size", "0"],
    "generate --out clip (no extension)": ["--out", "clip"],
    "generate --image missing.png": ["--image", "missing.png"],
}
BASELINES = {"python -c pass": ["-c", "pass"], "python -c 'import torch'": ["-c", "import torch"]}


def case_argv(extra: list[str], out_folder: Path) -> list[str]:
    """The command line of one case: --help cases as they are, the others a complete ``generate``
    with one bad argument (the last spelling of an option wins)."""
    if "--help" in extra:
        return ["-m", "sadtalker_core", *extra]
    return ["-m", "sadtalker_core", "generate", "--image", str(MEDIA / "people_0.png"), "--audio",
            str(MEDIA / "RD_Radio31_000.wav"), "--out", str(out_folder / "out.mp4"), "--checkpoints",
            str(out_folder / "models"), *extra]


def export(revision: str, folder: Path) -> Path:
    """The files of ``revision`` (git archive) in ``folder``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def timed(argv: list[str], cwd: Path) -> tuple[float, int, int]:
    """(wall seconds, exit status, stderr lines) of ``python argv`` in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done.returncode, len(done.stderr.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compare-with", metavar="REV", help="also time the command line of this git revision")
    add_output_options(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        trees = {"this checkout": REPO}
        if args.compare_with:
            trees[args.compare_with] = export(args.compare_with, scratch / "before")
        runs = [(name, tree, case_argv(extra, scratch)) for name, extra in CASES.items() for tree in trees.values()]
        runs += [(name, REPO, argv) for name, argv in BASELINES.items()]
        load = [os.getloadavg()[0]]
        results: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
        for _ in range(args.rounds):
            for name, tree, argv in runs:
                label = next(key for key, value in trees.items() if value == tree) if name in CASES else ""
                results.setdefault((name, label), []).append(timed(argv, tree))
        load.append(os.getloadavg()[0])
        written = sorted(path.name for path in scratch.iterdir() if path.name != "before")
        if written:
            raise SystemExit(f"the cases wrote {written}: an argument error must write nothing")

    figures = []
    for (name, label), measured in results.items():
        seconds = [wall for wall, _, _ in measured]
        figures.append({"case": name, "code": label, "median_s": statistics.median(seconds), "min_s": min(seconds),
                        "max_s": max(seconds), "exit": sorted({code for _, code, _ in measured}),
                        "stderr_lines": sorted({lines for _, _, lines in measured})})
    lines = [f"{args.rounds} rounds, load average {load[0]:.1f} at the start, {load[1]:.1f} at the end", "",
             "| case | code | wall s, median (range) | exit status | stderr lines |", "|---|---|---|---|---|"]
    for row in figures:
        lines.append(f"| {row['case']} | {row['code']} | {row['median_s']:.2f} ({row['min_s']:.2f}-{row['max_s']:.2f}) "
                     f"| {', '.join(map(str, row['exit']))} | {', '.join(map(str, row['stderr_lines']))} |")
    report(args, {"load_average": load, "cases": figures}, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
