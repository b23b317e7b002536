"""``generate-batch``: every row of a manifest rendered (a picture row as ``generate`` does, a dub
row as ``dub`` does) with models loaded once, resumable and split over processes (the manifest
itself is :mod:`.manifest`), or handed out to the workers of a Ray cluster (:mod:`.ray_batch`)."""
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
from .dub import check_dub_arguments, dub_clip, dub_line, read_dub_inputs
from .generate import Engine, Progress, clip_line, device_and_precision, load_engine, read_inputs, render_clip
from .manifest import NEEDED, BatchReport, Manifest, ManifestError, ManifestRow, Shard, is_complete_video, read_manifest
from .parser import PROCESS_OPTIONS, check_arguments, clip_arguments, dub_arguments

#: the batch's options a dub row takes; the others are picture rows' defaults (``dub``'s own differ:
#: ``--preprocess full``, ``--batch-size 0``), so a dub row is ``dub`` with its columns as flags
DUB_INHERITED = (*PROCESS_OPTIONS, "max_seconds")
#: what each kind of row is called in messages
ROW_KINDS = {False: "a picture row (image)", True: "a dub row (video)"}


def _row_parser(dub: bool = False) -> tuple[Parser, dict[str, argparse.Action]]:
    """A parser of one manifest row's arguments (errors raised, not printed): ``generate``'s, or
    ``dub``'s for a dub row; and the options such a row may set, by column name."""
    parser = Parser(prog="generate-batch", raise_errors=True, add_help=False)
    (dub_arguments if dub else clip_arguments)(parser)
    fixed = {"video" if dub else "image", "audio", "out", "help", *PROCESS_OPTIONS}
    return parser, {action.dest: action for action in parser._actions if action.dest not in fixed}


def _check_columns(manifest: Manifest) -> None:
    """Refuse, before any row runs, a column no row could use (a typo would fail every row)."""
    options = {dub: _row_parser(dub)[1] for dub in ROW_KINDS}
    for column in sorted(manifest.option_columns):
        name = column.replace("-", "_")
        if name in PROCESS_OPTIONS:
            raise ManifestError(f"{manifest.path}: the column '{column}' cannot change from row to row (it chooses "
                                f"what the process loads); give generate-batch --{name.replace('_', '-')} instead")
        if not any(name in kind for kind in options.values()):
            raise ManifestError(f"{manifest.path}: unknown column '{column}'; a row has {NEEDED}, and "
                                + "; ".join(f"{ROW_KINDS[dub]} any of: {', '.join(sorted(options[dub]))}"
                                            for dub in ROW_KINDS))


def _flag(column: str, value: object) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ArgumentsError(f"column {column}: expected true or false, got '{value}'")


def row_arguments(args: argparse.Namespace, manifest: Manifest, row: ManifestRow) -> argparse.Namespace:
    """One row's arguments, parsed and range-checked by the same parser as the command line's:
    ``generate``'s (the batch's options overridden by the row's columns), or for a dub row ``dub``'s
    (its defaults and the batch's :data:`DUB_INHERITED`, overridden by the row's columns).  The
    result's ``command`` says which."""
    parser, options = _row_parser(row.is_dub)
    source = ["--video", str(row.video)] if row.is_dub else ["--image", str(row.image)]
    tokens = [*source, "--audio", str(row.audio), "--out", str(row.output), "--checkpoints", str(args.checkpoints)]
    flags = {}
    for column, value in row.options.items():
        action = options.get(column.replace("-", "_"))
        if action is None:
            raise ArgumentsError(f"column {column} does not apply to {ROW_KINDS[row.is_dub]}; it takes any of: "
                                 f"{', '.join(sorted(options))}")
        option = action.option_strings[0]
        if action.nargs == 0:  # --still: true / false
            flags[action.dest] = _flag(column, value)
            continue
        items = value if isinstance(value, list) else re.split(r"[,\s]+", str(value).strip())
        if action.type is Path:
            items = [str(manifest.folder / str(item)) for item in items]
        tokens += [f"{option}={item}" for item in items] if action.nargs is None else [option, *map(str, items)]
    if row.is_dub:
        dests = {action.dest for action in parser._actions}
        start = argparse.Namespace(**{name: getattr(args, name) for name in DUB_INHERITED if name in dests})
    else:
        start = copy.copy(args)
    namespace = parser.parse_args(tokens, namespace=start)
    for dest, value in flags.items():
        setattr(namespace, dest, value)
    namespace.command = "dub" if row.is_dub else "generate"
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
    _check_columns(manifest)
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
            (check_dub_arguments if row.is_dub else check_arguments)(row_args)
        except SadTalkerError as err:
            record_failure(report, row, str(err))
            continue
        pending.append((row, row_args))
    return report, pending


class RowRenderer:
    """Renders rows one after another in one process, with the models loaded once, for the first row
    whose inputs could be read, and shared by picture rows (``generate``) and dub rows (``dub``)."""

    def __init__(self, args: argparse.Namespace, progress: Progress, local_rank: int | None = None):
        self.args, self.progress, self.local_rank = args, progress, local_rank
        self.engine: Engine | None = None

    def render(self, row_args: argparse.Namespace) -> str:
        """One row rendered: its closing line (where, how many frames, what size).  A problem with the
        row raises :class:`RowFailed` (a bug's traceback printed first); a problem loading the models
        raises its :class:`SadTalkerError`: no row could be rendered."""
        dub = row_args.command == "dub"
        try:
            inputs = read_dub_inputs(row_args) if dub else read_inputs(row_args)
        except SadTalkerError as err:
            raise RowFailed(str(err)) from err
        if self.engine is None:
            device, precision = device_and_precision(self.args, self.local_rank)
            self.engine = load_engine(self.args, device, precision, self.progress)
        try:
            if dub:
                return dub_line(dub_clip(self.engine.models, row_args, inputs, self.progress))
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
