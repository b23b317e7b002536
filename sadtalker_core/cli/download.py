"""``download DIR``: fetch the official model files into a folder (the downloader is
:mod:`sadtalker_core.io.download`)."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import DownloadError
from ..io import download as library
from .arguments import EXIT_BAD_INPUT, Parser


def _parse_override(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=HEX, got '{text}'")
    return name.strip(), value


def main(argv: Sequence[str] | None = None, prog: str = "python -m sadtalker_core download") -> int:
    """``python -m sadtalker_core download DIR [options]``: fetch the official files into DIR."""
    parser = Parser(
        prog=prog,
        description="Download the official SadTalker, facexlib and GFPGAN model files (or, with --training, the "
                    "files the trainers need), verified by sha256, resumable.",
    )
    parser.add_argument("directory", type=Path, help="folder to put the files in (created if missing)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--only", nargs="+", metavar="NAME", choices=list(library.OFFICIAL_FILES),
                       help="download just these files")
    which.add_argument("--all", action="store_true",
                       help="also the optional enhancers (RestoreFormer.pth, codeformer.pth)")
    which.add_argument("--training", action="store_true",
                       help="the files the trainers need instead: " + ", ".join(
                           spec.name for spec in library.OFFICIAL_FILES.values() if spec.training))
    parser.add_argument("--sha256", action="append", type=_parse_override, default=[], metavar="NAME=HEX",
                        help="expected sha256 of a file, replacing its built-in size and sha256 (or the recorded sha256) "
                             "(repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        files = library.select_files(args.only, args.all, args.training)
        results = library.download(args.directory, files, dict(args.sha256), not args.no_progress)
    except DownloadError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for result in results:
        print(f"{result.action:>10}  {result.path}  sha256 {result.sha256}")
    return 0
