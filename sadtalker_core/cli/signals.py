"""SIGTERM and SIGHUP stop the command line as Ctrl-C does, so that the unfinished video is removed."""
from __future__ import annotations

import signal
import threading


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is so that it unwinds as for Ctrl-C: the
    unfinished video's temporary file is removed on the way out."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, frame) -> None:
    for name in ("SIGTERM", "SIGHUP"):  # a second signal must not cut the cleanup short
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    raise Stopped(signum)


class StopOnSignals:
    """Within the block, SIGTERM and SIGHUP raise :class:`Stopped` (main thread only; restored after)."""

    def __enter__(self) -> None:
        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGTERM", "SIGHUP"):
                if hasattr(signal, name):
                    self.saved[name] = signal.signal(getattr(signal, name), _stop)

    def __exit__(self, *exc_info) -> None:
        for name, handler in self.saved.items():
            signal.signal(getattr(signal, name), handler)
