"""Golden files: inputs and outputs of the official implementation, with their ``meta`` JSON."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open

from sadtalker_core.checkpoints import OFFICIAL_LAYOUTS, CheckpointError

#: meta["stage"] prefixes (as the reference harness wrote them) -> our stage names.
STAGE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("audio2exp", "audio2exp"),
    ("audio2pose.test", "audio2pose"),
    ("Audio2Coeff.generate", "audio2coeff"),
    ("audio", "audio"),
    ("mappingNet", "mapping"),
    ("KPDetector", "kp_detector"),
    ("HEEstimator", "he_estimator"),
    ("keypoint_transformation", "keypoint_transformation"),
    ("OcclusionAwareSPADEGenerator", "generator"),
    ("make_animation", "make_animation"),
    ("align_img", "align_img"),
    ("ReconNetWrapper", "face_3drecon"),
    ("inference.py main", "inference_e2e"),
    ("facexlib RetinaFace", "retinaface"),
    ("Preprocesser.get_landmark", "awing_fan"),
    ("Preprocesser.crop", "croper"),
    ("src/utils/paste_pic.py", "paste_pic"),
)


def stage_of(meta: dict) -> str:
    """Our stage name for a golden's ``meta['stage']`` text."""
    text = str(meta.get("stage", ""))
    for prefix, stage in STAGE_PREFIXES:
        if text.startswith(prefix):  # the order above puts longer prefixes first
            return stage
    raise ValueError(f"unknown golden stage {text!r}; known: {', '.join(s for _, s in STAGE_PREFIXES)}")


@dataclass
class Golden:
    """One golden file: its tensors (inputs and reference outputs) and metadata.  ``read`` collects
    the names of the tensors a handler took (through ``golden[name]``), so that every value a
    stage reads from the golden must be declared as one of its inputs."""

    path: Path
    tensors: dict[str, torch.Tensor]
    meta: dict
    info: dict = field(default_factory=dict)
    read: set[str] = field(default_factory=set, repr=False)

    @property
    def stage(self) -> str:
        return stage_of(self.meta)

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self.tensors:
            raise KeyError(f"{self.path.name}: golden has no tensor '{name}' (has: {', '.join(self.tensors)})")
        self.read.add(name)
        return self.tensors[name]

    def checkpoint_names(self) -> list[str]:
        """Official file names mentioned in ``meta['checkpoint']``, in order."""
        text = str(self.meta.get("checkpoint", ""))
        names = sorted(OFFICIAL_LAYOUTS, key=len, reverse=True)
        found = []
        for match in re.finditer("|".join(re.escape(n) for n in names), text):
            if match.group(0) not in found:
                found.append(match.group(0))
        return found


def load_golden(path: str | Path) -> Golden:
    """Read a golden ``.safetensors`` file (tensors + ``meta`` / ``info`` metadata)."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001 - any read failure is reported the same way
        raise CheckpointError(f"{path}: cannot read golden file ({exc})") from exc
    if "meta" not in metadata:
        raise CheckpointError(f"{path}: not a golden file (no 'meta' JSON in its metadata)")
    return Golden(path, tensors, json.loads(metadata["meta"]), json.loads(metadata.get("info", "{}")))
