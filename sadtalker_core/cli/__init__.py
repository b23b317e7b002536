"""Command line: ``sadtalker generate | generate-batch | demo | dub | download`` (also
``python -m sadtalker_core ...``).

Argument parsing and progress bars only; every step is a call into the library.  Options keep
the official ``inference.py`` names (both ``--pose-style`` and ``--pose_style`` spellings work).
Arguments are parsed and checked before anything heavy is imported (torch, the media libraries,
the networks), so ``--help`` and a bad argument answer at once.  A problem with the inputs (a
picture without a face, empty audio, a damaged model file, an output folder that cannot be
written, ...) prints one ``error:`` line and exits with status 2; SIGTERM and SIGHUP stop as
Ctrl-C does, leaving no unfinished video behind.
"""
from __future__ import annotations

import argparse
import signal
import sys
import warnings
from collections.abc import Callable, Sequence

from ..errors import SadTalkerError
from .arguments import EXIT_BAD_INPUT
from .batch import run_batch
from .dub import dub_line, run_dub
from .generate import clip_line, run_generate
from .parser import build_parser, prog
from .signals import StopOnSignals, Stopped


def _forward_download(argv: Sequence[str]) -> int:
    from .download import main

    return main(list(argv), prog=f"{prog()} download")


FORWARDED: dict[str, Callable[[Sequence[str]], int]] = {"download": _forward_download}


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    if args.command == "generate-batch":
        report = run_batch(args)
        print("\n".join(report.summary()), file=sys.stderr)
        return EXIT_BAD_INPUT if report.failed else 0
    if args.command == "dub":
        print(dub_line(run_dub(args)))
        return 0
    print(clip_line(run_generate(args)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in FORWARDED:
        return FORWARDED[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings(), StopOnSignals():
        warnings.showwarning = _show_warning  # one line each, without the source line
        try:
            return _run(args)
        except SadTalkerError as err:  # a problem the user can fix; anything else is a bug: traceback
            print(f"error: {' '.join(str(err).splitlines())}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt as stop:
            signum = stop.signum if isinstance(stop, Stopped) else signal.SIGINT
            print(f"{'interrupted' if signum == signal.SIGINT else f'stopped by {stop}'}; "
                  "the unfinished video was not written", file=sys.stderr)
            return 128 + signum
