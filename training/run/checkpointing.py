"""Training checkpoints: networks + optimizers + gradient scaler + step, written atomically.

A checkpoint is ``<run>/checkpoints/step_<step>.pt``: a torch pickle of plain tensors and numbers
(it loads with ``weights_only=True``) holding

* ``step``: optimizer steps taken;
* ``modules``: ``{name: state_dict}`` of every network the task saves (official key names);
* ``optimizers``: ``{name: optimizer state_dict}``; ``scaler``: the AMP gradient scaler's state;
* ``config``: the run's config as plain data (for reference; resuming uses the current config).

Since the data order and every random draw depend only on the seed and the step (see
``training.data.datasets``), loading one and training on reproduces the run that never stopped.
"""
from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sadtalker_core.errors import CheckpointError, InputError
from sadtalker_core.io.atomic import write_atomically

_STEP_FILE = re.compile(r"step_(\d+)\.pt$")


def checkpoint_path(folder: Path, step: int) -> Path:
    return folder / f"step_{step:08d}.pt"


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(step, path) of every step checkpoint in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.search(p.name))]
    return sorted(found)


def save_checkpoint(path: Path, step: int, modules: Mapping[str, nn.Module],
                    optimizers: Mapping[str, torch.optim.Optimizer], scaler_state: dict[str, Any],
                    config: dict[str, Any]) -> Path:
    """Write the checkpoint under a temporary name and rename it into place."""
    payload = {
        "step": step,
        "modules": {name: module.state_dict() for name, module in modules.items()},
        "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
        "scaler": scaler_state,
        "config": config,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, lambda handle: torch.save(payload, handle))


def prune_checkpoints(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` step checkpoints (``keep`` 0 keeps all)."""
    if keep > 0:
        for _, path in list_checkpoints(folder)[:-keep]:
            path.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint written by :func:`save_checkpoint`, on the CPU."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError, EOFError) as exc:
        raise CheckpointError(f"{path}: cannot read it as a training checkpoint ({exc})") from exc
    missing = {"step", "modules", "optimizers"} - set(checkpoint if isinstance(checkpoint, dict) else ())
    if missing:
        raise InputError(f"{path}: not a training checkpoint (missing {sorted(missing)})")
    return checkpoint


def restore(checkpoint: dict[str, Any], modules: Mapping[str, nn.Module],
            optimizers: Mapping[str, torch.optim.Optimizer], source: Path) -> int:
    """Load networks and optimizers from ``checkpoint``; returns its step.  Every saved network
    and optimizer must be there, with the same keys and shapes."""
    for kind, have, saved in (("networks", modules, checkpoint["modules"]),
                              ("optimizers", optimizers, checkpoint["optimizers"])):
        if set(have) != set(saved):
            raise InputError(f"{source}: holds {kind} {sorted(saved)}, this trainer has {sorted(have)}; "
                             "resume with the trainer (and config) that wrote it")
    try:
        for name, module in modules.items():
            module.load_state_dict(checkpoint["modules"][name])
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(checkpoint["optimizers"][name])
    except (RuntimeError, ValueError) as exc:  # other shapes: the config changed since the checkpoint
        raise InputError(f"{source} does not fit this trainer's networks ({exc}); resume with the config that "
                         "wrote it, or start afresh (run.resume: never)") from exc
    return int(checkpoint["step"])
