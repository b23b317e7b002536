"""argparse pieces the commands share: a bad argument is one ``error:`` line, and checked number types.

Only the standard library is imported here, so that ``--help`` and argument errors answer at once
(the networks, torch and the media libraries are imported by a command only once its arguments
have been checked).
"""
from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn

from ..errors import SettingError

EXIT_BAD_INPUT = 2  # what every command returns for a problem the user can fix (argparse's own status)


class ArgumentsError(SettingError):
    """An argument that argparse or one of the types below refused; the message names it."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line instead of the usage block plus a line.

    ``raise_errors``: raise :class:`ArgumentsError` instead of printing and exiting (arguments
    that come from a file, such as a manifest row).  Sub-command parsers are of this class too.
    """

    def __init__(self, *args, raise_errors: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.raise_errors = raise_errors

    def error(self, message: str) -> NoReturn:
        if self.raise_errors:
            raise ArgumentsError(message)
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (no upper limit when None)."""
    wanted = f"a whole number from {low} to {high}" if high is not None else f"a whole number of at least {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got '{text}'")
        return value

    return parse


def number(at_least: float | None = None, at_most: float | None = None,
           positive: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number, optionally ``at_least`` / ``at_most`` / above 0."""
    if positive:
        wanted = "a number above 0"
    elif at_least is not None and at_most is not None:
        wanted = f"a number from {at_least:g} to {at_most:g}"
    elif at_least is not None:
        wanted = f"a number of at least {at_least:g}"
    else:
        wanted = "a finite number"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and (at_least is None or value >= at_least)
                and (at_most is None or value <= at_most) and (not positive or value > 0)):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got '{text}'")
        return value

    return parse
