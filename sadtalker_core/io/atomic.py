"""Files that appear whole or not at all: the one write-to-a-partial-file-then-rename of the library.

Every file the library writes (motion files, downloads, videos, ComfyUI's example inputs) is written
under a temporary name beside its destination and renamed into place once complete.  A rename
within one folder is atomic, so a reader finds the old file or the new one, never half of one, and
an error or an interrupt leaves no file under the final name.  Files get the permissions the umask
gives any new file.

A process killed outright (SIGKILL, a power cut) cannot remove its partial file; writers that may
run side by side use :func:`unique_partial`, whose names record the process, so that the next
write of the same file removes what dead processes left (:func:`remove_stale_partials`).
"""
from __future__ import annotations

import errno
import glob
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

PARTIAL = ".partial"
#: tries at creating a partial file: a name taken or the folder removed meanwhile are retried
_CREATE_ATTEMPTS = 8


def partial_path(path: str | os.PathLike, suffix: str = PARTIAL) -> Path:
    """``<path><suffix>``: where a writer that is alone on ``path`` puts the unfinished file."""
    path = Path(path)
    return path.with_name(path.name + suffix)


class AtomicFile:
    """A destination ``path`` and the ``partial`` file its content is written into first
    (default ``<name>.partial``).

    :meth:`commit` renames the partial file to ``path``; :meth:`discard` removes it.  As a context
    manager it commits when the block ends normally and discards on an exception, or keeps the
    partial file with ``keep_on_error`` (a download resumes from it)::

        with AtomicFile(target) as file:
            shutil.copyfile(source, file.partial)
    """

    def __init__(self, path: str | os.PathLike, partial: str | os.PathLike | None = None,
                 keep_on_error: bool = False):
        self.path = Path(path)
        self.partial = partial_path(self.path) if partial is None else Path(partial)
        self.keep_on_error = keep_on_error

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        elif not self.keep_on_error:
            self.discard()

    def commit(self) -> Path:
        """Move the complete partial file to ``path`` (replacing a file there); returns ``path``."""
        try:
            os.replace(self.partial, self.path)
        except BaseException:
            self.discard()
            raise
        return self.path

    def discard(self) -> None:
        """Remove the partial file (``path`` is left untouched)."""
        self.partial.unlink(missing_ok=True)


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(handle)`` on ``<path>.partial`` opened for writing, then rename it to ``path``;
    when ``write`` fails, the partial file is removed and ``path`` left as it was."""
    with AtomicFile(path) as file, open(file.partial, "wb") as handle:
        write(handle)
    return file.path


def unique_partial(path: str | os.PathLike) -> Path:
    """Create (empty) a hidden partial file beside ``path`` that no other writer shares:
    ``.<stem>.<pid>.<random>.partial<suffix>``, with the permissions the umask gives any new file.
    The folder is created if missing.  Creating it is also the check that the folder can be
    written: an :class:`OSError` here comes before any work."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(_CREATE_ATTEMPTS):
        partial = path.parent / f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}{PARTIAL}{path.suffix}"
        try:
            os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return partial
        except FileExistsError:
            continue
        except FileNotFoundError:  # another process removed the folder it had made meanwhile
            path.parent.mkdir(parents=True, exist_ok=True)
    # a folder that exists but where no file can be created: /proc, some FUSE and network mounts
    raise OSError(errno.EIO, f"no file can be created in {path.parent} (tried {_CREATE_ATTEMPTS} times)",
                  str(path.parent))


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (POSIX).  Elsewhere False: Windows refuses to
    delete a file that another process still has open, which protects a live writer's file."""
    if os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_partials(path: str | os.PathLike) -> list[Path]:
    """Remove the :func:`unique_partial` files that writes of ``path`` left behind when their
    process was killed outright (no cleanup could run); those of a process still running are kept.
    Returns the files removed."""
    path = Path(path)
    prefix, suffix = f".{path.stem}.", f"{PARTIAL}{path.suffix}"
    removed = []
    for candidate in path.parent.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
        middle = candidate.name[len(prefix):-len(suffix)]
        pid, dot, token = middle.partition(".")
        if dot:
            if not (pid.isdigit() and token.isalnum()) or _process_alive(int(pid)):
                continue
        elif not (len(middle) == 8 and middle.replace("_", "").isalnum()):
            continue  # not ours; 8 letters: tempfile's name, from versions that did not record the pid
        try:
            candidate.unlink()
            removed.append(candidate)
        except OSError:
            pass  # in use (Windows) or already gone
    return removed
