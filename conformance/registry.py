"""Stage handlers: how each golden stage is recomputed with our implementation.

A handler takes the golden (its inputs and meta) and a :class:`StageContext` (where the
checkpoint files and media are) and returns the outputs it recomputed, by golden tensor name.
Each registration names the golden tensors the stage reads (``inputs``) and gives the tolerance
of every output it is judged on (``outputs``); both by name patterns (``*`` matches any text, so
``*_quad`` covers every crop slot), never by the picture or threshold a golden happens to hold.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import torch

from sadtalker_core.checkpoints import OFFICIAL_LAYOUTS, CheckpointError

from .golden import Golden

Output = torch.Tensor | np.ndarray


@dataclass(frozen=True)
class Tolerance:
    """Allowed max |ours - golden|: ``abs``, or ``rel`` times max |golden| (0 = exact)."""

    abs: float | None = None
    rel: float | None = None

    def limit(self, golden: torch.Tensor) -> float:
        if self.rel is not None:
            return self.rel * float(golden.abs().max()) if golden.numel() else 0.0
        return float(self.abs or 0.0)

    def __str__(self) -> str:
        return f"rel {self.rel:g}" if self.rel is not None else f"abs {self.abs or 0:g}"


#: integers (indices, boxes, sizes) and pure slices / copies of decoded or stored data
EXACT = Tolerance(abs=0.0)


@dataclass(frozen=True)
class StageContext:
    """Where a handler finds checkpoint files and media, and which device to run on."""

    weights_dir: Path
    media_dirs: tuple[Path, ...] = ()
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def checkpoint(self, golden: Golden, section: str, default: str | None = None) -> Path:
        """The checkpoint file holding ``section`` for this golden: the first official file named
        in ``meta['checkpoint']`` that has that section, else ``default``."""
        names = [n for n in golden.checkpoint_names() if section in OFFICIAL_LAYOUTS[n].sections]
        name = names[0] if names else default
        if name is None:
            raise CheckpointError(f"{golden.path.name}: meta names no checkpoint holding '{section}'")
        path = self.weights_dir / name
        if not path.is_file():
            raise CheckpointError(f"{path}: needed for '{section}' by {golden.path.name}, but not found in --weights")
        return path

    def media(self, name: str) -> Path:
        """A media file named by a golden's meta (e.g. ``media/people_0.png, cv2.imread ...``: the
        first word is the file), searched by its file name in the media dirs, in order."""
        base = Path(name.split(",")[0].split(" ")[0]).name
        for folder in self.media_dirs:
            if (folder / base).is_file():
                return folder / base
        raise FileNotFoundError(f"media file '{base}' not found in: {', '.join(map(str, self.media_dirs)) or '(none)'}"
                                " (give the folder holding it with --media)")


Handler = Callable[[Golden, StageContext], Mapping[str, Output]]


@dataclass(frozen=True)
class Stage:
    """A registered stage: its handler, the golden tensors it reads and its outputs' tolerances."""

    name: str
    handler: Handler
    outputs: Mapping[str, Tolerance]
    inputs: tuple[str, ...] = ()

    def tolerance(self, tensor: str) -> Tolerance | None:
        """The tolerance of output ``tensor``, or None when no output pattern matches it."""
        matches = [pattern for pattern in self.outputs if fnmatchcase(tensor, pattern)]
        if len(matches) > 1:
            raise ValueError(f"stage '{self.name}': output '{tensor}' matches several patterns {matches}")
        return self.outputs[matches[0]] if matches else None

    def reads(self, tensor: str) -> bool:
        """Whether ``tensor`` is one of the golden inputs this stage reads."""
        return any(fnmatchcase(tensor, pattern) for pattern in self.inputs)


STAGES: dict[str, Stage] = {}


def stage(name: str, outputs: Mapping[str, Tolerance], inputs: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the recomputation of golden stage ``name``."""

    def register(handler: Handler) -> Handler:
        STAGES[name] = Stage(name, handler, dict(outputs), tuple(inputs))
        return handler

    return register
