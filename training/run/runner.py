"""The training loop every ``python -m training.trainers.*`` shares.

A trainer is a :class:`Task`: it builds its networks and dataset from its config, says which
networks are trained, does one optimisation step on a batch, renders samples and exports the
official files.  :func:`train` does the rest, identically for every network:

* checks, before anything else, that every file the trainer reads is there and that its
  settings fit the data (one error listing every problem, see ``inputs``);
* joins the ``torchrun`` process group (NCCL on GPU, gloo on CPU) or runs as a world of one,
  and prints the trainer's warnings about its settings before the first step;
* seeds torch so every process builds identical networks; all sampling randomness lives in
  the dataset (``training.data.datasets``), keyed by the global sample position;
* turns the trained networks' BatchNorms into global-batch ones (``sync_batchnorm``) and
  wraps them in DistributedDataParallel when there are several processes;
* feeds each process its share of the global batch, steps the optimizers (under autocast when
  ``run.precision`` is fast: bf16, or fp16 with a gradient scaler; float32 work stays float32,
  TF32 off, as in ``sadtalker_core.precision``), applies the step learning-rate milestones;
* logs loss terms averaged over processes to CSV / TensorBoard, renders samples, writes
  checkpoints (networks + optimizers + scaler + step) and resumes from them;
* exports the official-format file(s) at the end; under ``torchrun`` only rank 0 exports and
  prints the summary.

:func:`main` is a trainer's command line; a user mistake ends it as one ``error:`` line.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, default_collate
from tqdm import tqdm

from sadtalker_core.errors import InputError, SettingError
from sadtalker_core.precision import Precision, compute_dtype, float32_arithmetic, resolve

from ..command import run_command
from ..config import RunConfig, load_config, save_config, to_dict
from ..data.datasets import StepBatchSampler
from .checkpointing import (
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    restore,
    save_checkpoint,
)
from .distributed import DistContext, barrier, init_distributed, mean_over_processes, shutdown
from .inputs import data_problems, raise_if_problems
from .logs import MetricLogger
from .sync_batchnorm import convert_batchnorm

C = TypeVar("C")
SAMPLE_COUNT = 4  # samples rendered at each sample step


def autocast_dtype(run: RunConfig, device: torch.device) -> torch.dtype | None:
    """The reduced precision the steps autocast to on ``device`` (None: they compute in ``run.dtype``).
    ``fast`` on a device without native bfloat16 / float16, or with float64 networks (which autocast
    leaves as they are), is a :class:`SettingError`."""
    if resolve(run.precision, device) is Precision.EXACT:
        return None
    if run.dtype == "float64":
        raise SettingError(f"run.dtype float64 computes in float64, but run.precision {run.precision!r} is fast on "
                           f"{device}: set run.precision to exact")
    return compute_dtype(run.precision, device)


class Optimization:
    """What a task's step uses to update networks: autocast and scaled backward + step."""

    def __init__(self, optimizers: Mapping[str, torch.optim.Optimizer], device: torch.device, run: RunConfig) -> None:
        self.optimizers = dict(optimizers)
        reduced = autocast_dtype(run, device)
        self.enabled = reduced is not None
        self.dtype = reduced or torch.float32
        self.device = device
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.dtype == torch.float16)

    def autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=self.enabled)

    def step(self, loss: torch.Tensor, *names: str) -> None:
        """Backpropagate ``loss`` and step the named optimizers (their gradients are cleared first)."""
        for name in names:
            self.optimizers[name].zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        for name in names:
            self.scaler.step(self.optimizers[name])


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Parameters of ``module`` take no gradient inside the block (a GAN's adversary during the
    generator's step); their previous flags come back afterwards."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


class Task(ABC, Generic[C]):
    """One network's training.  Subclasses set, in ``__init__``:

    * ``modules``: every network saved in checkpoints (whole networks, official key names);
    * ``trainable``: the (sub)networks that are optimised: each one is wrapped for DDP and found
      again, wrapped, in ``self.ddp`` once the runner has prepared it;
    * ``frozen_parts``: parts of trainable networks that are not trained and keep eval-mode
      BatchNorm statistics (e.g. a frozen audio encoder);
    * ``dataset``: a position-addressed dataset (``training.data.datasets.ClipSampleDataset``).
    """

    name: ClassVar[str]

    def __init__(self, config: C, ctx: DistContext) -> None:
        self.config, self.ctx = config, ctx
        self.modules: dict[str, nn.Module] = {}
        self.trainable: dict[str, nn.Module] = {}
        self.frozen_parts: list[nn.Module] = []
        self.ddp: dict[str, nn.Module] = {}
        self.dataset: Dataset

    @property
    def run(self) -> RunConfig:
        return self.config.run

    def train_mode(self, training: bool) -> None:
        """Trained networks in training (or eval) mode, their frozen parts always in eval mode."""
        for module in self.trainable.values():
            module.train(training)
        for part in self.frozen_parts:
            part.eval()

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Optimizers over ``trainable`` (called after BatchNorm conversion)."""

    @abstractmethod
    def training_step(self, batch: dict[str, torch.Tensor], opt: Optimization) -> dict[str, torch.Tensor]:
        """One update on this process's share of a global batch; returns the loss terms (scalars)."""

    @abstractmethod
    def sample(self, batch: dict[str, torch.Tensor], folder: Path, step: int) -> None:
        """Write sample outputs for ``batch`` (fixed over the run) into ``folder`` (eval mode)."""

    @classmethod
    def missing_inputs(cls, config: C) -> list[str]:
        """What is missing among the files this trainer reads (``inputs``), checked before the
        networks are built; every trainer reads the prepared data, subclasses add their files."""
        return data_problems(config.run.data)

    @classmethod
    def setting_problems(cls, config: C) -> list[str]:
        """Settings that do not fit the prepared data, checked with the files (none by default)."""
        return []

    @classmethod
    def warnings(cls, config: C) -> list[str]:
        """What the user should know about a run these settings start, before its first step (e.g.
        an export the official code cannot load); none by default."""
        return []

    @abstractmethod
    def export(self, folder: Path, step: int) -> list[Path]:
        """Write the official-format file(s) of the trained networks, ``step`` steps trained, into
        ``folder``."""


def to_device(batch: Mapping[str, torch.Tensor], device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The batch on ``device``, its floating tensors in ``dtype``."""
    return {k: v.to(device, dtype if v.is_floating_point() else None, non_blocking=True) for k, v in batch.items()}


def cast_networks(task: Task, dtype: torch.dtype) -> None:
    """Every network the task holds (trained, frozen, loss networks) in ``dtype``."""
    for value in vars(task).values():
        if isinstance(value, nn.Module):
            value.to(dtype)


def set_learning_rates(optimizers: Mapping[str, torch.optim.Optimizer], milestones: tuple[int, ...], step: int) -> None:
    """Every learning rate is its initial value divided by 10 per milestone reached."""
    factor = 0.1 ** sum(step >= m for m in milestones)
    for optimizer in optimizers.values():
        for group in optimizer.param_groups:
            group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor


def resume_source(run: RunConfig) -> Path | None:
    if run.resume == "never":
        return None
    if run.resume == "auto":
        found = list_checkpoints(Path(run.out) / "checkpoints")
        return found[-1][1] if found else None
    path = Path(run.resume)
    if not path.is_file():
        raise InputError(f"run.resume: checkpoint {path} not found; give a step_*.pt of run.out/checkpoints, "
                         "'auto' or 'never'")
    return path


def prepare_networks(task: Task, ctx: DistContext) -> None:
    """Global-batch BatchNorm in the trained networks, DDP around them on several processes."""
    for name, module in task.trainable.items():
        convert_batchnorm(module, ctx.device)
        if ctx.distributed:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            task.ddp[name] = DistributedDataParallel(module, device_ids=ids)
        else:
            task.ddp[name] = module
    task.train_mode(True)


def _sample_batch(task: Task, device: torch.device) -> dict[str, torch.Tensor]:
    count = min(SAMPLE_COUNT, task.run.batch_size)
    return to_device(default_collate([task.dataset[p] for p in range(count)]), device, getattr(torch, task.run.dtype))


def _render_samples(task: Task, batch: dict[str, torch.Tensor], step: int) -> None:
    task.train_mode(False)
    try:
        with torch.no_grad():
            task.sample(batch, Path(task.run.out) / "samples", step)
    finally:
        task.train_mode(True)


@dataclass(frozen=True)
class TrainResult:
    """A finished run: its folder, the step reached, the exported files (on the main process;
    empty on the others) and whether this process is the main one (rank 0)."""

    out: Path
    step: int
    exported: tuple[Path, ...]
    main: bool

    def summary(self) -> str:
        files = "".join(f"\n  {path}" for path in self.exported)
        return f"done: {self.out} (step {self.step}); exported:{files}"


def train(task_cls: type[Task[C]], config: C) -> TrainResult:
    """Train ``task_cls`` as ``config`` says (resuming when a checkpoint is there)."""
    run: RunConfig = config.run
    raise_if_problems(command_name(task_cls), task_cls.missing_inputs(config), task_cls.setting_problems(config))
    ctx = init_distributed(run.device)
    try:
        autocast_dtype(run, ctx.device)  # a precision the device lacks stops here, before anything is built
        if ctx.is_main:
            for warning in task_cls.warnings(config):
                print(f"warning: {warning}", file=sys.stderr)
        with float32_arithmetic():
            return _train(task_cls, config, ctx)
    finally:
        shutdown(ctx)


def _train(task_cls: type[Task[C]], config: C, ctx: DistContext) -> TrainResult:
    """The run itself, in the process group ``ctx``."""
    run: RunConfig = config.run
    torch.manual_seed(run.seed)
    task = task_cls(config, ctx)
    dtype = getattr(torch, run.dtype)
    cast_networks(task, dtype)
    prepare_networks(task, ctx)
    optimizers = task.optimizers()
    opt = Optimization(optimizers, ctx.device, run)
    out = Path(run.out)
    start = 0
    source = resume_source(run)
    if source is not None:
        checkpoint = load_checkpoint(source)
        start = restore(checkpoint, task.modules, optimizers, source)
        opt.scaler.load_state_dict(checkpoint.get("scaler") or {})
    logger = None
    if ctx.is_main:
        save_config(config, out / "config.yaml")
        logger = MetricLogger(out / "logs", start, run.tensorboard)
        samples = _sample_batch(task, ctx.device)
    loader = DataLoader(task.dataset, batch_sampler=StepBatchSampler(run.batch_size, ctx.rank, ctx.world_size,
                                                                     start, run.steps),
                        num_workers=run.num_workers, pin_memory=ctx.device.type == "cuda")
    sums: dict[str, torch.Tensor] = {}
    count, last = 0, start
    bar = tqdm(initial=start, total=run.steps, desc=task.name, unit="step", disable=not (ctx.is_main and run.progress))
    for step, batch in enumerate(loader, start=start + 1):
        set_learning_rates(optimizers, run.lr_milestones, step - 1)
        losses = task.training_step(to_device(batch, ctx.device, dtype), opt)
        opt.scaler.update()
        for name, value in losses.items():
            sums[name] = sums.get(name, 0) + value.detach().double()
        count += 1
        if step % run.log_every == 0 or step == run.steps:
            values = mean_over_processes({k: v / count for k, v in sums.items()}, ctx)
            sums, count = {}, 0
            if logger is not None:
                logger.log(step, values)
                bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()})
        if ctx.is_main and run.sample_every and step % run.sample_every == 0:
            _render_samples(task, samples, step)
        if step % run.checkpoint_every == 0 or step == run.steps:
            if ctx.is_main:
                folder = out / "checkpoints"
                save_checkpoint(checkpoint_path(folder, step), step, task.modules, optimizers,
                                opt.scaler.state_dict(), to_dict(config))
                prune_checkpoints(folder, run.keep_checkpoints)
            barrier(ctx)
        bar.update()
        last = step
    bar.close()
    exported: list[Path] = []
    if ctx.is_main:
        logger.close()
        exported = task.export(out / "export", last)
    barrier(ctx)
    return TrainResult(out, last, tuple(exported), ctx.is_main)


def command_name(task_cls: type[Task]) -> str:
    """The module a trainer's command line runs: ``training.trainers.<name>``."""
    return f"training.trainers.{task_cls.name}"


def main(task_cls: type[Task[C]], config_cls: type[C], argv: list[str] | None = None,
         description: str | None = None) -> int:
    """The command line of a trainer: ``--config FILE`` and any number of ``--set key=value``
    (``--set key=`` unsets a key)."""
    parser = argparse.ArgumentParser(prog=f"python -m {command_name(task_cls)}", description=description)
    parser.add_argument("--config", help="YAML file (only what differs from the paper's defaults)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config value, e.g. --set run.steps=1000 (repeatable); "
                             "KEY= unsets it (its default; for an optional file: none)")
    args = parser.parse_args(argv)

    def run() -> int:
        result = train(task_cls, load_config(config_cls, args.config, args.set))
        if result.main:
            print(result.summary())
        return 0

    return run_command(run)


def adam_per_network(modules: Mapping[str, nn.Module], rates: Mapping[str, float],
                     betas: tuple[float, float] = (0.9, 0.999)) -> dict[str, torch.optim.Optimizer]:
    """One Adam per trained network (``rates``: name -> learning rate) over its parameters that
    require gradients; the fused implementation where this torch has it for the device."""
    def adam(parameters: list[nn.Parameter], rate: float) -> torch.optim.Optimizer:
        try:
            return torch.optim.Adam(parameters, lr=rate, betas=betas, fused=True)
        except RuntimeError:  # torch < 2.4 fuses on CUDA only
            return torch.optim.Adam(parameters, lr=rate, betas=betas)

    return {name: adam([p for p in modules[name].parameters() if p.requires_grad], rate) for name, rate in rates.items()}
