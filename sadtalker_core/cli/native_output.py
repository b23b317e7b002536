"""What C libraries print straight to the process's stderr (libpng, libjpeg, OpenCV's log), caught.

Those lines bypass Python (``sys.stderr``, warnings, logging), so a front end that promises one
clear line per problem catches them at the file-descriptor level around the call that may print
them, and turns them into the detail of its own message or drops them.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile

_OPENCV_LOG_PREFIX = re.compile(r"^\[\s*\w+:\d+@[\d.]+\]\s+(global\s+\S+\s+)?")


class NativeStderr:
    """Context manager: everything written to file descriptor 2 inside the block is kept in
    :attr:`lines` (blank lines dropped, OpenCV's ``[ WARN:0@0.1] global file.cpp:12`` prefixes
    removed) instead of reaching the terminal."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __enter__(self) -> NativeStderr:
        sys.stderr.flush()
        self._sink = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._sink.fileno(), 2)
        return self

    def __exit__(self, *exc_info) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        with self._sink:
            self._sink.seek(0)
            text = self._sink.read().decode(errors="replace")
        self.lines = [_OPENCV_LOG_PREFIX.sub("", line).strip() for line in text.splitlines() if line.strip()]

    @property
    def last(self) -> str | None:
        """The last line printed (usually the decoder's reason), or None."""
        return self.lines[-1] if self.lines else None
