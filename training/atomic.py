"""Files the training tools write whole or not at all, with the permissions the user's umask gives.

Every shard, target, checkpoint and exported file is written under ``<name>.partial`` and renamed
into place once complete, so a crash never leaves a half file under the final name.  Some
writers create private files whatever the umask (safetensors >= 0.5 writes ``-rw-------``), so
the finished file is given ``0o666 & ~umask`` -- what ``open()`` would have made -- before the
rename: data prepared by one user can be read by the group that trains on it.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def user_file_mode() -> int:
    """``0o666`` less the process's umask: the mode a plain ``open(path, "w")`` creates files with."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(partial)`` to fill ``<path>.partial``, give it the umask's mode and rename it to
    ``path`` (creating the folder).  When ``write`` fails, the partial file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        write(partial)
        os.chmod(partial, user_file_mode())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path
