"""``generate-batch``: every row of a manifest rendered with models loaded once, resumable and
split over processes (the manifest itself is :mod:`.manifest`), or handed out to the workers of a
Ray cluster (:mod:`.ray_batch`)."""
from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import traceback
from pathlib import Path

from ..errors import SadTalkerError, SettingError
from .arguments import ArgumentsError, Parser
from .generate import Engine, Progress, clip_line, device_and_precision, load_engine, read_inputs, render_clip
from .manifest import BatchReport, Manifest, ManifestError, ManifestRow, Shard, is_complete_video, read_manifest
from .parser import PROCESS_OPTIONS, check_arguments, clip_arguments


def _row_parser() -> tuple[Parser, dict[str, argparse.Action]]:
    """A parser of one manifest row's arguments (errors raised, not printed), and the options a row
    may set, by column name."""
    parser = Parser(prog="generate-batch", raise_errors=True, add_help=False)
    clip_arguments(parser)
    fixed = {"image", "audio", "out", "help", *PROCESS_OPTIONS}
    return parser, {action.dest: action for action in parser._actions if action.dest not in fixed}


def _check_columns(manifest: Manifest, options: dict[str, argparse.Action]) -> None:
    """Refuse, before any row runs, a column no row could use (a typo would fail every row)."""
    for column in sorted(manifest.option_columns):
        name = column.replace("-", "_")
        if name in PROCESS_OPTIONS:
            raise ManifestError(f"{manifest.path}: the column '{column}' cannot change from row to row (it chooses "
                                f"what the process loads); give generate-batch --{name.replace('_', '-')} instead")
        if name not in options:
            raise ManifestError(f"{manifest.path}: unknown column '{column}'; a row has image, audio, output and any "
                                f"of: {', '.join(sorted(options))}")


def _flag(column: str, value: object) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ArgumentsError(f"column {column}: expected true or false, got '{value}'")


def row_arguments(args: argparse.Namespace, manifest: Manifest, row: ManifestRow) -> argparse.Namespace:
    """``generate``'s arguments for one row: the batch's options, overridden by the row's columns,
    parsed and range-checked by the same parser as the command line's."""
    parser, options = _row_parser()
    tokens = ["--image", str(row.image), "--audio", str(row.audio), "--out", str(row.output),
              "--checkpoints", str(args.checkpoints)]
    flags = {}
    for column, value in row.options.items():
        action = options[column.replace("-", "_")]
        option = action.option_strings[0]
        if action.nargs == 0:  # --still: true / false
            flags[action.dest] = _flag(column, value)
            continue
        items = value if isinstance(value, list) else re.split(r"[,\s]+", str(value).strip())
        if action.type is Path:
            items = [str(manifest.folder / str(item)) for item in items]
        tokens += [f"{option}={item}" for item in items] if action.nargs is None else [option, *map(str, items)]
    namespace = parser.parse_args(tokens, namespace=copy.copy(args))
    for dest, value in flags.items():
        setattr(namespace, dest, value)
    return namespace


class RowFailed(Exception):
    """One row could not be rendered; the message says why (the batch goes on with the others)."""


def record_failure(report: BatchReport, row: ManifestRow, error: str) -> None:
    """A failed row: said at once on stderr, and kept for the summary."""
    report.failed.append((row, error))
    print(f"error: line {row.line} ({row.output}): {error}", file=sys.stderr)


def plan_batch(args: argparse.Namespace, shard: Shard,
               progress: Progress) -> tuple[BatchReport, list[tuple[ManifestRow, argparse.Namespace]]]:
    """The rows of ``shard`` still to render, each with its arguments, and the report so far: rows
    whose output is already a complete video are skipped, rows whose arguments fail the checks
    that need no model are failed; neither is rendered."""
    manifest = read_manifest(args.manifest)
    _check_columns(manifest, _row_parser()[1])
    report = BatchReport(manifest.path, shard, len(shard.take(manifest.rows)))
    progress.say(f"{manifest.path}: {len(manifest.rows)} rows; this process takes {report.rows} (shard {shard})")
    pending = []
    for row in shard.take(manifest.rows):
        if is_complete_video(row.output):
            report.skipped.append(row)
            print(f"{row.output}: already complete, skipped")
            continue
        try:
            row_args = row_arguments(args, manifest, row)
            check_arguments(row_args)
        except SadTalkerError as err:
            record_failure(report, row, str(err))
            continue
        pending.append((row, row_args))
    return report, pending


class RowRenderer:
    """Renders rows one after another in one process, with the models loaded once, for the first row
    whose picture and audio could be read."""

    def __init__(self, args: argparse.Namespace, progress: Progress, local_rank: int | None = None):
        self.args, self.progress, self.local_rank = args, progress, local_rank
        self.engine: Engine | None = None

    def render(self, row_args: argparse.Namespace) -> str:
        """One row rendered: its closing line (where, how many frames, what size).  A problem with the
        row raises :class:`RowFailed` (a bug's traceback printed first); a problem loading the models
        raises its :class:`SadTalkerError`: no row could be rendered."""
        try:
            inputs = read_inputs(row_args)
        except SadTalkerError as err:
            raise RowFailed(str(err)) from err
        if self.engine is None:
            device, precision = device_and_precision(self.args, self.local_rank)
            self.engine = load_engine(self.args, device, precision, self.progress)
        try:
            return clip_line(render_clip(self.engine, row_args, inputs, self.progress))
        except SadTalkerError as err:
            raise RowFailed(str(err)) from err
        except Exception as err:  # a bug, shown with its traceback; the other rows still run
            traceback.print_exc()
            raise RowFailed(f"internal error ({type(err).__name__}: {err}); the traceback is above") from err


def run_batch(args: argparse.Namespace) -> BatchReport:
    """``generate-batch``: every row of this process's shard that is not already done, each in turn,
    with the models loaded once (for the first row that needs them).  A failed row is recorded and
    the next one goes on; a problem with the models themselves ends the run.  With ``--ray``, the
    rows go to the workers of a Ray cluster instead (:mod:`.ray_batch`)."""
    if args.ray is not None:
        from .ray_batch import run_ray_batch

        return run_ray_batch(args)
    if args.ray_cpus_per_worker is not None:
        raise SettingError("--ray-cpus-per-worker sizes the workers of --ray; give --ray too, or drop it")
    progress = Progress(args.quiet)
    shard = args.shard or Shard.from_environment(os.environ) or Shard()
    report, pending = plan_batch(args, shard, progress)
    local_rank = os.environ.get("LOCAL_RANK")
    renderer = RowRenderer(args, progress, int(local_rank) if local_rank else None)
    for row, row_args in pending:
        try:
            line = renderer.render(row_args)
        except RowFailed as err:
            record_failure(report, row, str(err))
        else:
            report.rendered.append(row)
            print(line)
    return report
