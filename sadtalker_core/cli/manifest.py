"""Many clips from one manifest: its rows, how processes split them, what counts as done, the report.

A manifest is a CSV file (a header row, then one clip per row) or a JSONL file (one JSON object per
line) naming each clip's ``image``, ``audio`` and ``output``, plus any per-clip option (``pose_style``,
``still``, ``max_seconds``, ...: what the front end accepts).  A row may give a ``video`` instead of
an ``image`` (exactly one of the two): that talking video is dubbed with the row's speech, as
``sadtalker dub`` does, with ``dub``'s options (``length``, ``preprocess`` full / extfull, ``paste``,
...).  Relative paths are relative to the manifest's folder, so a manifest and its media can move
together::

    image,video,audio,output,pose_style,length
    faces/anna.png,,lines/001.wav,out/001.mp4,3,
    ,talks/ben.mp4,lines/002.wav,out/002.mp4,,loop

Processes split the rows with no coordination: shard ``K/N`` (K counting from 0) takes rows K, K+N,
K+2N, ... of the manifest, so N processes (or machines sharing a folder) each take their own.  A
row is done when its output exists and is a complete video: videos are written under a temporary
name and renamed when complete, so a rerun skips what earlier runs finished and does the rest.

Only the standard library is imported at module level (the command line reads a manifest before
anything heavy loads); :func:`is_complete_video` imports the video reader when called.
"""
from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

#: the columns every row needs: the speech and the video to write
REQUIRED_COLUMNS = ("audio", "output")
#: what a row animates, exactly one of them: a picture (``generate``) or a talking video (``dub``)
SOURCE_COLUMNS = ("image", "video")
#: how the manifest's messages name the columns a row needs
NEEDED = "image or video, audio, output"
MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")


class ManifestError(InputError):
    """A manifest that cannot be read as a whole: missing, of an unknown kind, or malformed."""


@dataclass(frozen=True)
class ManifestRow:
    """One clip of a manifest: where it is (``line`` of the file, 1-based), its paths (resolved
    against the manifest's folder), and its other columns as given (strings from CSV, JSON values
    from JSONL; empty cells and nulls left out).  A dub row has a ``video`` and no ``image``."""

    line: int
    image: Path | None
    audio: Path
    output: Path
    options: dict[str, object] = field(default_factory=dict)
    video: Path | None = None

    @property
    def is_dub(self) -> bool:
        """Whether the row dubs a talking video (``video``) rather than animating a picture."""
        return self.video is not None


@dataclass(frozen=True)
class Manifest:
    path: Path
    rows: list[ManifestRow]

    @property
    def folder(self) -> Path:
        """What relative paths in the manifest are relative to."""
        return self.path.parent

    @property
    def option_columns(self) -> set[str]:
        """Every per-clip option some row sets."""
        return {name for row in self.rows for name in row.options}


def _records(path: Path) -> list[tuple[int, Mapping[str, object]]]:
    """(line, record) of each clip in a CSV or JSONL file."""
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise ManifestError(f"{path}: a manifest is a {' or '.join(MANIFEST_SUFFIXES)} file, got '{path.suffix}'")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"cannot read the manifest {path} ({err}); give a UTF-8 CSV or JSONL file") from err
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines(keepends=True))
        records = [(reader.line_num, record) for record in reader]
        extra = next((line for line, record in records if None in record), None)
        if extra is not None:
            raise ManifestError(f"{path}, line {extra}: more cells than the header has columns")
        return records
    records = []
    for line, text_line in enumerate(text.splitlines(), start=1):
        if not text_line.strip():
            continue
        try:
            record = json.loads(text_line)
        except json.JSONDecodeError as err:
            raise ManifestError(f"{path}, line {line}: not JSON ({err.msg}); write one object per line") from err
        if not isinstance(record, dict):
            raise ManifestError(f"{path}, line {line}: expected a JSON object, got {type(record).__name__}")
        records.append((line, record))
    return records


def _given(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def read_manifest(path: str | os.PathLike) -> Manifest:
    """The rows of a CSV / JSONL manifest.  A missing required column, an empty manifest or two rows
    writing one output (processes would overwrite each other) is a :class:`ManifestError`."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"the manifest {path} does not exist; give a CSV or JSONL file with the columns "
                            f"{NEEDED}")
    rows: list[ManifestRow] = []
    writers: dict[Path, int] = {}
    for line, record in _records(path):
        sources = [name for name in SOURCE_COLUMNS if _given(record.get(name))]
        missing = [name for name in REQUIRED_COLUMNS if not _given(record.get(name))]
        if missing or not sources:
            raise ManifestError(f"{path}, line {line}: no {' or '.join(missing or SOURCE_COLUMNS)}; every row "
                                f"needs {NEEDED}")
        if len(sources) > 1:
            raise ManifestError(f"{path}, line {line}: both image and video; give image to animate a picture or "
                                "video to dub a talking video, not both")
        image, video, audio, output = (path.parent / str(record[name]).strip() if _given(record.get(name)) else None
                                       for name in (*SOURCE_COLUMNS, *REQUIRED_COLUMNS))
        earlier = writers.setdefault(output.resolve(), line)
        if earlier != line:
            raise ManifestError(f"{path}, lines {earlier} and {line} both write {output}; give each clip its own output")
        options = {str(name): value for name, value in record.items()
                   if name not in (*SOURCE_COLUMNS, *REQUIRED_COLUMNS) and _given(value)}
        rows.append(ManifestRow(line, image, audio, output, options, video))
    if not rows:
        raise ManifestError(f"the manifest {path} has no rows")
    return Manifest(path, rows)


@dataclass(frozen=True)
class Shard:
    """Which rows one process takes: ``index`` K of ``count`` N takes rows K, K + N, K + 2N, ..."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise InputError(f"shard {self.index}/{self.count}: need N >= 1 and K from 0 to N - 1")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` -> Shard."""
        index, slash, count = text.partition("/")
        if not (slash and index.strip().isdigit() and count.strip().isdigit()):
            raise InputError(f"expected K/N such as 0/4 (K counts from 0), got '{text}'")
        return cls(int(index), int(count))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Shard | None:
        """The shard ``torchrun`` (or any launcher setting ``RANK`` and ``WORLD_SIZE``) gives this
        process, or None outside such a launch."""
        if "RANK" not in environ or "WORLD_SIZE" not in environ:
            return None
        try:
            return cls(int(environ["RANK"]), int(environ["WORLD_SIZE"]))
        except ValueError as err:
            raise InputError(f"RANK={environ['RANK']} and WORLD_SIZE={environ['WORLD_SIZE']} do not name a "
                             "process of a launch (whole numbers, RANK below WORLD_SIZE)") from err

    def take(self, rows: Sequence[ManifestRow]) -> list[ManifestRow]:
        return list(rows[self.index::self.count])


def is_complete_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a video that can be opened and holds frames and an audio track: what this
    project writes (a file that exists but is cut short or is something else is not)."""
    from ..errors import VideoError
    from ..io.video_reader import probe_video

    if not Path(path).is_file():
        return False
    try:
        info = probe_video(path)
    except VideoError:
        return False
    return info.frame_count > 0 and info.has_audio


@dataclass
class BatchReport:
    """What became of each row a process took: rendered, skipped (already complete) or failed (why)."""

    manifest: Path
    shard: Shard
    rows: int  # how many rows the process took
    rendered: list[ManifestRow] = field(default_factory=list)
    skipped: list[ManifestRow] = field(default_factory=list)
    failed: list[tuple[ManifestRow, str]] = field(default_factory=list)

    def summary(self) -> list[str]:
        """The closing lines: the counts, then each failed row with its error, in the manifest's order."""
        taken = f" (shard {self.shard})" if self.shard.count > 1 else ""
        counts = (f"{self.manifest}{taken}: {self.rows} rows, {len(self.rendered)} rendered, "
                  f"{len(self.skipped)} already complete, {len(self.failed)} failed")
        failed = sorted(self.failed, key=lambda failure: failure[0].line)  # rows fail in two passes: cheap checks first
        return [counts] + [f"  line {row.line} ({row.output}): {error}" for row, error in failed]
