"""``generate-batch --ray``: the rows of a manifest handed out to the workers of a Ray cluster.

Each worker is a Ray actor holding one :class:`~.batch.RowRenderer` (the models loaded once, for
its first row) on one GPU, or on a few CPUs when the cluster has no GPU.  Rows go to whichever
worker is free, so clips of different lengths leave no worker idle while others have a queue;
a row that fails, or whose worker dies, is tried once more on any worker before it is reported.
The rows to render, the skipped ones and the report are those of ``generate-batch`` without Ray
(:func:`~.batch.plan_batch`).  Workers write each video to its row's output themselves: every
node must see the manifest, the media, the models and the output folders at the same paths.

Ray is an optional dependency, imported only here, and this module only with ``--ray``.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TextIO

from ..errors import MissingPackageError, SadTalkerError, SettingError
from .batch import RowFailed, RowRenderer, plan_batch, record_failure
from .generate import Progress
from .manifest import BatchReport, ManifestRow, Shard
from .parser import RAY_LOCAL

#: how many times a row is tried before it is reported as failed
ATTEMPTS = 2
#: CPUs (and torch threads) of a worker on a cluster without GPUs, unless --ray-cpus-per-worker says
CPUS_PER_CPU_WORKER = 2
#: the folder that holds the ``sadtalker_core`` package: the workers import it from there
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def import_ray() -> ModuleType:
    try:
        import ray
    except ImportError as err:
        raise MissingPackageError("generate-batch --ray needs Ray: pip install ray (or the project's [ray] extra)") \
            from err
    return ray


@dataclass(frozen=True)
class WorkerPlan:
    """How many Ray workers to start and what each reserves."""

    count: int
    num_cpus: int
    num_gpus: int  # 0 or 1

    def __str__(self) -> str:
        cpus = f"{self.num_cpus} CPU{'s' if self.num_cpus > 1 else ''}"
        each = f"1 GPU and {cpus}" if self.num_gpus else cpus
        return f"{self.count} Ray worker{'s' if self.count > 1 else ''} ({each} each)"


def plan_workers(nodes: Sequence[Mapping], device: str, cpus_per_worker: int | None, rows: int) -> WorkerPlan:
    """The workers for ``rows`` rows on a cluster whose nodes are ``nodes`` (``ray.nodes()``): one per
    GPU unless ``--device cpu``; else one per ``cpus_per_worker`` CPUs (default 2, or all of a smaller
    node), counted node by node since a worker cannot span two.  Never more workers than rows."""
    resources = [(int(node["Resources"].get("CPU", 0)), int(node["Resources"].get("GPU", 0)))
                 for node in nodes if node.get("Alive", True)]
    gpu_nodes = [(cpus, gpus) for cpus, gpus in resources if gpus > 0]
    if device == "cuda" and not gpu_nodes:
        raise SettingError("--device cuda: the Ray cluster has no GPU; use --device auto or cpu")
    use_gpus = bool(gpu_nodes) and device != "cpu"
    if use_gpus:
        num_cpus = cpus_per_worker or max(1, min(cpus // gpus for cpus, gpus in gpu_nodes))
        count = sum(min(gpus, cpus // num_cpus) for cpus, gpus in gpu_nodes)
    else:
        num_cpus = cpus_per_worker or max(1, min(CPUS_PER_CPU_WORKER, max((cpus for cpus, _ in resources), default=0)))
        count = sum(cpus // num_cpus for cpus, _ in resources)
    if count == 0:
        largest = max((cpus for cpus, _ in (gpu_nodes if use_gpus else resources)), default=0)
        raise SettingError(f"no {'GPU ' if use_gpus else ''}node of the Ray cluster has {num_cpus} CPUs for a worker "
                           f"(the largest has {largest}); give --ray-cpus-per-worker a smaller number, or add nodes")
    return WorkerPlan(min(count, rows), num_cpus, 1 if use_gpus else 0)


@dataclass(frozen=True)
class RowOutcome:
    """What a worker made of one row: its closing line, or why it failed, or why no row can be rendered."""

    line: str | None = None
    error: str | None = None  # this row failed
    fatal: SadTalkerError | None = None  # the models could not be loaded: the whole run stops


class RowWorker:
    """The body of one Ray actor: a :class:`RowRenderer` in the actor's process, with as many torch
    threads as CPUs it reserved, working in the driver's folder (relative paths mean the same)."""

    def __init__(self, args: argparse.Namespace, threads: int, folder: str):
        import torch

        if os.path.isdir(folder):
            os.chdir(folder)
        torch.set_num_threads(threads)
        self.renderer = RowRenderer(args, Progress(quiet=True))  # bars from many processes would interleave

    def render(self, row_args: argparse.Namespace) -> RowOutcome:
        try:
            return RowOutcome(line=self.renderer.render(row_args))
        except RowFailed as err:
            return RowOutcome(error=str(err))
        except SadTalkerError as err:
            return RowOutcome(fatal=err)


def _connect(ray: ModuleType, address: str) -> None:
    """This process joins the cluster: a new one on this machine, or the running one at ``address``.
    SIGTERM keeps stopping the command line as Ctrl-C does (``ray.init`` sets a handler of its own)."""
    main_thread = threading.current_thread() is threading.main_thread()
    sigterm = signal.getsignal(signal.SIGTERM) if main_thread else None
    try:
        if address == RAY_LOCAL:
            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
        else:
            ray.init(address=address, logging_level=logging.WARNING)
    except ConnectionError as err:
        raise SettingError(f"--ray {address}: no Ray cluster there ({err}); start one with ray start --head, or "
                           "give --ray alone for one on this machine") from err
    finally:
        if sigterm is not None:
            signal.signal(signal.SIGTERM, sigterm)


def _worker_environment() -> dict:
    """The workers' runtime_env: this checkout importable, whether or not it is installed."""
    path = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
    return {"env_vars": {"PYTHONPATH": path}}


def _schedule(ray: ModuleType, start_worker: Callable[[], object],
              pending: list[tuple[ManifestRow, argparse.Namespace]], report: BatchReport, workers: list,
              results: TextIO) -> None:
    """Every pending row to the next free worker until all are rendered or have failed ``ATTEMPTS``
    times; a dead worker is replaced.  Outcomes are printed as they come, as without Ray."""
    queue = deque((row, row_args, 1) for row, row_args in pending)
    idle = list(workers)
    running: dict = {}
    while queue or running:
        while queue and idle:
            worker = idle.pop()
            row, row_args, attempt = queue.popleft()
            running[worker.render.remote(row_args)] = (worker, row, row_args, attempt)
        (done,), _ = ray.wait(list(running), num_returns=1)
        worker, row, row_args, attempt = running.pop(done)
        try:
            outcome = ray.get(done)
        except ray.exceptions.RayActorError as err:  # the process died (killed, out of memory, node lost)
            workers.remove(worker)
            ray.kill(worker)
            worker = start_worker()
            workers.append(worker)
            outcome = RowOutcome(error=f"its Ray worker stopped ({str(err).splitlines()[0]})")
        except ray.exceptions.RayTaskError as err:  # a bug outside the row's own rendering
            print(str(err), file=sys.stderr)
            outcome = RowOutcome(error=f"internal error in the Ray worker ({type(err.cause).__name__}: {err.cause}); "
                                       "the traceback is above")
        idle.append(worker)
        if outcome.fatal is not None:
            raise outcome.fatal
        if outcome.error is None:
            report.rendered.append(row)
            print(outcome.line, file=results, flush=True)
        elif attempt < ATTEMPTS:
            print(f"line {row.line} ({row.output}): attempt {attempt} failed ({outcome.error}); trying again",
                  file=sys.stderr)
            queue.append((row, row_args, attempt + 1))
        else:
            record_failure(report, row, f"{outcome.error} ({attempt} attempts)")


def _render_on_cluster(ray: ModuleType, args: argparse.Namespace, pending: list[tuple[ManifestRow, argparse.Namespace]],
                       report: BatchReport, progress: Progress, results: TextIO) -> None:
    """The pending rows on workers started for them in the cluster this process joined; the workers
    end with the run, whatever happens."""
    plan = plan_workers(ray.nodes(), args.device, args.ray_cpus_per_worker, len(pending))
    progress.say(f"{len(pending)} rows to render on {plan}")
    actor = ray.remote(RowWorker).options(num_cpus=plan.num_cpus, num_gpus=plan.num_gpus,
                                          runtime_env=_worker_environment())

    def start_worker():
        return actor.remote(args, plan.num_cpus, os.getcwd())

    workers = []
    try:
        workers.extend(start_worker() for _ in range(plan.count))
        _schedule(ray, start_worker, pending, report, workers, results)
    finally:
        for worker in workers:
            ray.kill(worker)


def run_ray_batch(args: argparse.Namespace) -> BatchReport:
    """``generate-batch --ray``: the rows not yet done, on the workers of a Ray cluster (started here,
    or the running one ``--ray ADDRESS`` names, or the one this process already joined)."""
    ray = import_ray()
    if args.shard is not None:
        raise SettingError("--ray hands every row out itself; drop --shard (it splits a manifest between "
                           "processes that do not coordinate)")
    if re.fullmatch(r"cuda:\d+", args.device):
        raise SettingError(f"--device {args.device}: with --ray each worker gets a GPU of its own; "
                           "use --device auto or cuda")
    progress = Progress(args.quiet)
    report, pending = plan_batch(args, Shard(), progress)
    if not pending:
        return report
    results = sys.stdout  # one line per rendered clip, as without Ray
    with contextlib.redirect_stdout(sys.stderr):  # where Ray prints its own messages (a worker's death, ...)
        joined = ray.is_initialized()
        if not joined:
            _connect(ray, args.ray)
        try:
            _render_on_cluster(ray, args, pending, report, progress, results)
        finally:
            if not joined:
                ray.shutdown()
    return report
