"""The prepared-data layout ``python -m training.prepare`` writes and every trainer reads.

::

    <data>/manifest.json          clips (id, source video, speaker, frames, shard) and skipped files
    <data>/clips/<clip_id>.safetensors   one shard per clip (below)
    <data>/skipped/<clip_id>.json        why a video was left out (kept for resuming)
    <data>/targets/<clip_id>.safetensors ExpNet's lip-only targets (training.teacher), optional

A shard holds, for the T frames of one clip at 25 fps:

* ``frames`` (T, S, S, 3) uint8: the face crop (face-vid2vid style, fixed per clip), S = 256;
* ``coeffs`` (T, 73) float32: SadTalker's 3DMM vector per frame [expression 64, angles 3,
  translation 3, alignment scale / tx / ty] (what the inference path extracts from a video);
* ``coeffs_full`` (T, 257) float32: the recon net's whole output (identity, texture, lighting too);
* ``landmarks`` (T, 68, 2) float32: detected landmarks in crop pixels;
* ``mels`` (T, 80, 16) float32: the 16 kHz mel window of each frame (as at inference).

Frames are read one by one through safetensors' memory map, so a data loader never holds a
whole clip.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

SHARD_VERSION = 1
MANIFEST = "manifest.json"
CLIPS_DIR = "clips"
SKIPPED_DIR = "skipped"
TARGETS_DIR = "targets"


@dataclass(frozen=True, eq=False)
class ClipData:
    """Everything prepared for one clip (numpy arrays, shapes as in the module docstring)."""

    frames: np.ndarray
    coeffs: np.ndarray
    coeffs_full: np.ndarray
    landmarks: np.ndarray
    mels: np.ndarray

    def __post_init__(self) -> None:
        frames = self.frames.shape[0]
        expected = {"frames": (frames, self.frames.shape[1], self.frames.shape[1], 3), "coeffs": (frames, 73),
                    "coeffs_full": (frames, 257), "landmarks": (frames, 68, 2), "mels": (frames, 80, 16)}
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"clip data '{name}' must be {shape}, got {getattr(self, name).shape}")


@dataclass(frozen=True)
class ClipRecord:
    """A prepared clip as the manifest lists it (``shard`` relative to the data folder)."""

    clip_id: str
    source: str
    speaker: str
    frames: int
    shard: str


@dataclass(frozen=True)
class SkipRecord:
    """A video left out, and why: ``reason`` is one of ``no audio``, ``no face``, ``too short``,
    ``unreadable``; ``detail`` says more."""

    source: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Manifest:
    size: int
    fps: int
    clips: tuple[ClipRecord, ...] = ()
    skipped: tuple[SkipRecord, ...] = ()
    version: int = SHARD_VERSION

    def save(self, folder: Path) -> Path:
        path = folder / MANIFEST
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        os.replace(partial, path)
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Manifest:
        path = Path(folder) / MANIFEST
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: prepare the data first (python -m training.prepare)")
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("version") != SHARD_VERSION:
            raise ValueError(f"{path}: data format version {raw.get('version')}, this code reads {SHARD_VERSION}; "
                             "prepare the data again")
        return cls(raw["size"], raw["fps"], tuple(ClipRecord(**c) for c in raw["clips"]),
                   tuple(SkipRecord(**s) for s in raw["skipped"]), raw["version"])

    def styles(self) -> dict[str, int]:
        """Speaker -> pose style id (0, 1, ... in sorted speaker order): PoseVAE's class condition."""
        return {speaker: index for index, speaker in enumerate(sorted({c.speaker for c in self.clips}))}


def write_shard(path: Path, data: ClipData, metadata: dict[str, str]) -> None:
    """Write one clip's shard atomically (a crash never leaves a half shard under the final name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: torch.from_numpy(np.ascontiguousarray(getattr(data, name)))
               for name in ("frames", "coeffs", "coeffs_full", "landmarks", "mels")}
    partial = path.with_suffix(".partial")
    save_file(tensors, str(partial), metadata={**metadata, "version": str(SHARD_VERSION)})
    os.replace(partial, path)


def read_metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


class ClipShard:
    """Read access to one shard: small arrays are loaded once and cached, frames on demand."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._arrays: dict[str, np.ndarray] = {}
        with safe_open(str(self.path), framework="pt") as handle:
            self.metadata = dict(handle.metadata() or {})
            shape = handle.get_slice("frames").get_shape()
        self.num_frames, self.size = int(shape[0]), int(shape[1])

    def array(self, name: str) -> np.ndarray:
        """``coeffs``, ``coeffs_full``, ``landmarks`` or ``mels`` of every frame."""
        if name not in self._arrays:
            with safe_open(str(self.path), framework="pt") as handle:
                self._arrays[name] = handle.get_tensor(name).numpy()
        return self._arrays[name]

    def frames(self, index: list[int] | np.ndarray) -> np.ndarray:
        """(n, S, S, 3) uint8 frames ``index``."""
        with safe_open(str(self.path), framework="pt") as handle:
            frames = handle.get_slice("frames")
            return np.stack([frames[int(i):int(i) + 1].numpy()[0] for i in index])


@dataclass
class PreparedData:
    """A prepared data folder: its manifest and a (lazily opened) shard per clip."""

    folder: Path
    manifest: Manifest = field(init=False)
    shards: list[ClipShard] = field(init=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.manifest = Manifest.load(self.folder)
        if not self.manifest.clips:
            raise ValueError(f"{self.folder}: the manifest lists no usable clips "
                             f"({len(self.manifest.skipped)} skipped); see {MANIFEST} for why")
        self.shards = [ClipShard(self.folder / clip.shard) for clip in self.manifest.clips]

    def __len__(self) -> int:
        return len(self.shards)

    def style_ids(self) -> list[int]:
        styles = self.manifest.styles()
        return [styles[clip.speaker] for clip in self.manifest.clips]
