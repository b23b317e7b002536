"""How every training entry point ends, as ``sadtalker_core``'s command line does: a user mistake
(a :class:`SadTalkerError`: a missing file, a setting that does not fit, ...) is one ``error:``
line and exit status 2; anything else is a bug and keeps its traceback."""
from __future__ import annotations

import sys
from collections.abc import Callable

from sadtalker_core.cli import EXIT_BAD_INPUT  # the status every command returns for a user mistake
from sadtalker_core.errors import SadTalkerError


def run_command(body: Callable[[], int]) -> int:
    """``body()``'s exit status, or :data:`EXIT_BAD_INPUT` after printing its user mistake as one line."""
    try:
        return body()
    except SadTalkerError as err:
        print(f"error: {' '.join(line.strip() for line in str(err).splitlines())}", file=sys.stderr)
        return EXIT_BAD_INPUT
