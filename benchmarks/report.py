"""How the benchmark scripts hand out their results: a Markdown table on stdout and, when asked,
the raw figures as JSON and the table as a file (to paste into RESULTS.md)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    parser.add_argument("--markdown", type=Path, help="write the results table here")


def report(args: argparse.Namespace, figures: object, table: str) -> None:
    print(table)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    if args.markdown:
        args.markdown.write_text(table)
