"""A resumable, checksum-verified, atomic downloader for the official model files.

Files come from their public release URLs (the ones the official ``scripts/download_models.sh``
and ``src/utils/face_enhancer.py`` use), listed in :mod:`sadtalker_core.official_files`.  A
download goes to ``<name>.part`` in the destination folder, resumes from there with an HTTP Range
request after an interruption, and is renamed to ``<name>`` only once it is verified
(:class:`~sadtalker_core.io.atomic.AtomicFile`); a file that fails verification is deleted.

Verification: a server that does not announce a Content-Length is refused (the end of its
transfer could not be told from a cut), and a transfer must deliver every announced byte.  A file
is accepted when it has the registry's byte size (where pinned) and its sha256 equals the expected
one: the registry's value, else the value recorded by an earlier run.  Not every official file has
a published sha256, so where the registry has none (``sha256=None``) the hash computed on the
first download is written to ``<name>.sha256`` (``sha256sum`` format) and later runs check the file
against it (trust on first use).  A ``--sha256 NAME=HEX`` override replaces both pins (the size
and the hash) with that hash, for a release file that really changed.

``$SADTALKER_MODEL_MIRROR`` (a URL) fetches ``<mirror>/<file name>`` instead of the release URLs,
for a mirror that holds the same files; the checks above are the same.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..errors import DownloadError
from ..official_files import OFFICIAL_FILES, ModelFile
from . import atomic

CHUNK = 1 << 20
TIMEOUT_S = 60
_HEX64 = re.compile(r"[0-9a-f]{64}")
MIRROR_ENV = "SADTALKER_MODEL_MIRROR"
#: called as a file arrives: bytes of it on disk so far, its whole size (None when the server does not say)
ProgressCallback = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class DownloadResult:
    """Where a file ended up, its sha256, and whether it was ``downloaded``, ``resumed`` or already ``present``."""

    path: Path
    sha256: str
    action: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def record_path(target: Path) -> Path:
    """Where the trust-on-first-use hash of ``target`` is kept."""
    return target.with_name(target.name + ".sha256")


def partial_path(target: Path) -> Path:
    """Where an unfinished download of ``target`` is kept for resuming."""
    return atomic.partial_path(target, ".part")


def _recorded_sha256(target: Path) -> str | None:
    record = record_path(target)
    if not record.is_file():
        return None
    fields = record.read_text().split()
    if not fields or not _HEX64.fullmatch(fields[0].lower()):
        raise DownloadError(f"{record} does not hold a sha256; delete it so that the next download records a new one")
    return fields[0].lower()


def _check_sha256(value: str, name: str) -> str:
    value = value.strip().lower()
    if not _HEX64.fullmatch(value):
        raise DownloadError(f"the sha256 given for {name} must be 64 hexadecimal digits, got '{value}'")
    return value


def _check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        raise DownloadError(
            f"cannot write into {directory} ({err.strerror or err}); choose another folder or fix its permissions"
        ) from err


def _content_range_start(header: str | None) -> int | None:
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", (header or "").strip())
    return int(match.group(1)) if match else None


def file_url(spec: ModelFile) -> str:
    """Where ``spec`` is fetched from: its release URL, or ``<$SADTALKER_MODEL_MIRROR>/<name>``."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{spec.name}" if mirror else spec.url


def _fetch(url: str, partial: Path, size: int | None, progress: bool, desc: str,
           on_progress: ProgressCallback | None = None) -> bool:
    """Fetch ``url`` into ``partial``, continuing an existing partial file; True if it resumed.
    A response without Content-Length, or announcing another whole size than ``size`` (when
    given), is refused before its body is read.  ``on_progress`` is called after every chunk (it
    may raise to stop: the partial file stays)."""
    offset = partial.stat().st_size if partial.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # nothing past the end of the partial file: it is complete
            return True
        raise DownloadError(
            f"downloading {url} failed: HTTP {err.code} {err.reason}; check the URL or try again later"
        ) from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"cannot reach {url} ({reason}); check the network connection and run again") from err
    with response:
        if offset and response.status == 206:
            if _content_range_start(response.headers.get("Content-Range")) != offset:
                raise DownloadError(
                    f"{url} answered the request to resume at byte {offset} with another range; "
                    f"delete {partial} and run again"
                )
        else:
            offset = 0  # a fresh download, or a server that ignores Range: start over
        announced = (response.headers.get("Content-Length") or "").strip()
        if not announced.isdigit():
            raise DownloadError(f"{url} did not announce the file's length (no Content-Length header), so the end "
                                "of the transfer cannot be checked; try again later or use another mirror "
                                f"(${MIRROR_ENV})")
        length = int(announced)
        total = offset + length
        if size is not None and total != size:
            raise DownloadError(f"{url} announced a file of {total} bytes, expected {size}; nothing was saved "
                                "from it; if the release file really changed, give its sha256 to --sha256 (in "
                                "ComfyUI: to the sha256 input of Download SadTalker models)")
        received = 0
        try:
            with open(partial, "ab" if offset else "wb") as out, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=desc, disable=not progress,
            ) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    if on_progress is not None:
                        on_progress(offset + received, total)
        except (OSError, http.client.HTTPException) as err:
            raise DownloadError(
                f"the transfer from {url} broke off ({err}); run again to resume from {partial}"
            ) from err
    if received != length:
        raise DownloadError(
            f"the transfer from {url} stopped after {received} of {length} bytes; run again to resume from {partial}"
        )
    return offset > 0


def _mismatch(path: Path, actual: str, expected: str | None, size: int | None) -> str | None:
    """Why ``path`` is not the expected file (``size`` bytes when given, sha256 ``expected`` when
    given), or None when it is."""
    if size is not None and path.stat().st_size != size:
        return f"it has {path.stat().st_size} bytes, expected {size}"
    if expected is not None and actual != expected:
        return f"its sha256 is {actual}, expected {expected}"
    return None


def download_file(
    spec: ModelFile, directory: str | os.PathLike, sha256: str | None = None, progress: bool = True,
    on_progress: ProgressCallback | None = None,
) -> DownloadResult:
    """Make ``directory/spec.name`` hold the verified file, downloading or resuming it if needed.

    ``sha256`` replaces the registry's pins (size and hash) with that hash.  A file already there is
    checked, not fetched again.
    ``progress``: a console bar; ``on_progress``: see :data:`ProgressCallback`.
    """
    directory = Path(directory)
    _check_writable(directory)
    target = directory / spec.name
    expected = _check_sha256(sha256, spec.name) if sha256 else spec.sha256 or _recorded_sha256(target)
    size = None if sha256 else spec.size
    fix = (f"if the release file really changed, give {spec.name}=HEX to --sha256 (in ComfyUI: to the sha256 "
           "input of Download SadTalker models)") + (
        f" or delete {record_path(target)}" if record_path(target).is_file() else ""
    )
    if target.is_file():
        actual = file_sha256(target)
        problem = _mismatch(target, actual, expected, size)
        if problem:
            raise DownloadError(f"{target} is not the expected file: {problem}; delete it to download it again ({fix})")
        action = "present"
    else:
        url = file_url(spec)
        with atomic.AtomicFile(target, partial_path(target), keep_on_error=True) as file:  # kept to resume from
            resumed = _fetch(url, file.partial, size, progress, spec.name, on_progress)
            actual = file_sha256(file.partial)
            problem = _mismatch(file.partial, actual, expected, size)
            if problem:
                file.discard()
                raise DownloadError(
                    f"{url} gave a corrupt {spec.name}: {problem}; the download was deleted, run again ({fix})"
                )
        action = "resumed" if resumed else "downloaded"
    if spec.sha256 is None:
        record_path(target).write_text(f"{actual}  {spec.name}\n")
    return DownloadResult(target, actual, action)


def select_files(names: Iterable[str] | None = None, include_optional: bool = False,
                 training: bool = False) -> list[ModelFile]:
    """The registry entries called ``names`` (when None: the files the trainers need with
    ``training``, else all default files, with ``include_optional`` the optional enhancers too)."""
    if names is None:
        if training:
            return [spec for spec in OFFICIAL_FILES.values() if spec.training]
        return [spec for spec in OFFICIAL_FILES.values() if spec.default or (include_optional and not spec.training)]
    unknown = [name for name in names if name not in OFFICIAL_FILES]
    if unknown:
        raise DownloadError(f"unknown model file(s) {', '.join(unknown)}; known: {', '.join(OFFICIAL_FILES)}")
    return [OFFICIAL_FILES[name] for name in names]


def download(
    directory: str | os.PathLike,
    files: Sequence[ModelFile] | None = None,
    sha256: Mapping[str, str] | None = None,
    progress: bool = True,
) -> list[DownloadResult]:
    """Fetch ``files`` (default: :func:`select_files`) into ``directory``; ``sha256`` maps file
    names to hash overrides.  Stops at the first file that fails."""
    sha256 = dict(sha256 or {})
    files = select_files() if files is None else files
    check_overrides(files, sha256)
    return [download_file(spec, directory, sha256.get(spec.name), progress) for spec in files]


def check_overrides(files: Sequence[ModelFile], sha256: Mapping[str, str]) -> None:
    """Refuse sha256 overrides for files that are not among ``files`` (a typo would go unnoticed)."""
    unknown = sorted(set(sha256) - {spec.name for spec in files})
    if unknown:
        raise DownloadError(f"a sha256 is given for {', '.join(unknown)}, which is not among the files to download; "
                            "check the name")


def sha256_overrides(entries: Iterable[str]) -> dict[str, str]:
    """``NAME=HEX`` entries (blank ones skipped) -> {NAME: hash}, each hash checked (64 hex digits)."""
    overrides = {}
    for entry in (entry.strip() for entry in entries):
        if entry:
            name, sep, value = entry.partition("=")
            if not sep or not name.strip():
                raise DownloadError(f"a sha256 override must read NAME=HEX, got '{entry}'")
            overrides[name.strip()] = _check_sha256(value, name.strip())
    return overrides
