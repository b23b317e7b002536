"""Process-group setup for ``torchrun`` (NCCL on GPU, gloo on CPU) and the few collectives the
runner needs.  A plain ``python -m training.trainers.*`` run is a world of one and never touches
``torch.distributed``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist

from sadtalker_core.errors import SettingError


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: ``rank`` of ``world_size`` processes, on ``device``.
    ``owns_group`` says whether this context created the process group (and must destroy it)."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(preference: str, local_rank: int) -> torch.device:
    """``"auto"``: CUDA device ``local_rank`` when CUDA is available, else the CPU."""
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise SettingError("run.device is 'cuda' but CUDA is not available; use 'auto' or 'cpu'")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_distributed(device_preference: str = "auto") -> DistContext:
    """Join the ``torchrun`` process group described by the environment (RANK, WORLD_SIZE,
    LOCAL_RANK, MASTER_ADDR/PORT), or make a world of one when those are absent.  A group that is
    already initialised (several trainers in one process) is reused."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_preference, local_rank)
    owns = False
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        owns = True
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistContext(rank, world_size, local_rank, device, owns)


def shutdown(ctx: DistContext) -> None:
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def mean_over_processes(values: Mapping[str, torch.Tensor], ctx: DistContext) -> dict[str, float]:
    """Each value averaged over all processes (one collective for the whole dict), as floats."""
    names = sorted(values)
    if not names:
        return {}
    stacked = torch.stack([values[n].detach().double().reshape(()) for n in names]).to(ctx.device)
    if ctx.distributed:
        dist.all_reduce(stacked)
        stacked /= ctx.world_size
    return dict(zip(names, stacked.cpu().tolist()))
