"""The prepared-data layout ``python -m training.data.prepare`` writes and every trainer reads.

::

    <data>/manifest.json          clips (id, source video, speaker, frames, shard) and skipped files
    <data>/clips/<clip_id>.safetensors   one shard per clip (below)
    <data>/skipped/<clip_id>.json        why a video was left out (kept for resuming)
    <data>/targets/<clip_id>.safetensors ExpNet's lip-only targets (training.data.teacher), optional

A shard holds, for the T frames of one clip at 25 fps:

* the face crops (face-vid2vid style, fixed per clip), S x S RGB, S = 256, stored as
  :class:`FrameCodec` says: by default each frame a JPEG of quality 95 with full-resolution
  colour (``frame_bytes``: the T files one after the other, uint8; ``frame_ends`` (T,) int64:
  where each ends): 45 dB PSNR, a shard 5.8x smaller than with raw pixels; ``png`` stores them
  losslessly (1.9x smaller); ``raw`` as ``frames`` (T, S, S, 3) uint8, the only layout of
  version-1 shards, which are still read as they are (``benchmarks/RESULTS.md`` §7: sizes,
  quality, loader speed);
* ``coeffs`` (T, 73) float32: SadTalker's 3DMM vector per frame [expression 64, angles 3,
  translation 3, alignment scale / tx / ty] (what the inference path extracts from a video);
* ``coeffs_full`` (T, 257) float32: the recon net's whole output (identity, texture, lighting too);
* ``landmarks`` (T, 68, 2) float32: detected landmarks in crop pixels;
* ``mels`` (T, 80, 16) float32: the 16 kHz mel window of each frame (as at inference).

Frames are read one by one (and decoded) where a sample needs them, i.e. in the data loader's
worker processes, so a loader never holds a whole clip.  Every file is written atomically
(``sadtalker_core.io.atomic``) with the permissions the user's umask gives: the shards are
serialised in memory and written through an ``open()``ed file, since safetensors' own writer
makes private (``-rw-------``) files whatever the umask.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from sadtalker_core.errors import InputError, SettingError
from sadtalker_core.io.atomic import write_atomically

SHARD_VERSION = 2
#: versions this code reads: 1 = raw frames only (a shard's own layout says which it has)
READABLE_VERSIONS = (1, 2)
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
        text = json.dumps(asdict(self), indent=1)
        return write_atomically(folder / MANIFEST, lambda handle: handle.write(text.encode("utf-8")))

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Manifest:
        path = Path(folder) / MANIFEST
        if not path.is_file():
            raise InputError(f"{path} not found: prepare the data first (python -m training.data.prepare)")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read it ({exc}); prepare the data again") from exc
        if raw.get("version") not in READABLE_VERSIONS:
            raise InputError(f"{path}: data format version {raw.get('version')}, this code reads "
                             f"{', '.join(map(str, READABLE_VERSIONS))}; prepare the data again")
        return cls(raw["size"], raw["fps"], tuple(ClipRecord(**c) for c in raw["clips"]),
                   tuple(SkipRecord(**s) for s in raw["skipped"]), raw["version"])


@dataclass(frozen=True)
class FrameCodec:
    """How a shard stores its face crops: ``kind`` ``jpeg`` (``quality`` 1..100, 4:4:4 colour),
    ``png`` (lossless) or ``raw`` (uncompressed pixels)."""

    kind: str = "jpeg"
    quality: int = 95

    def __post_init__(self) -> None:
        if self.kind not in ("jpeg", "png", "raw"):
            raise SettingError(f"frame codec must be 'jpeg', 'png' or 'raw', got {self.kind!r}")
        if not 1 <= self.quality <= 100:
            raise SettingError(f"JPEG quality must be 1..100, got {self.quality}")

    def encode(self, frame: np.ndarray) -> np.ndarray:
        """One (S, S, 3) RGB frame -> the bytes of its image file (uint8)."""
        if self.kind == "jpeg":
            ok, data = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.quality,
                                                               cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                                                               cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
        elif self.kind == "png":
            ok, data = cv2.imencode(".png", frame[..., ::-1])
        else:
            raise ValueError("raw frames are stored as they are, not encoded")
        if not ok:
            raise ValueError(f"OpenCV could not encode a {frame.shape} frame as {self.kind}")
        return data.reshape(-1)


def _frame_tensors(frames: np.ndarray, codec: FrameCodec) -> dict[str, torch.Tensor]:
    if codec.kind == "raw":
        return {"frames": torch.from_numpy(np.ascontiguousarray(frames))}
    files = [codec.encode(frame) for frame in frames]
    return {"frame_bytes": torch.from_numpy(np.concatenate(files)),
            "frame_ends": torch.from_numpy(np.cumsum([len(f) for f in files]).astype(np.int64))}


def write_shard(path: Path, data: ClipData, metadata: dict[str, str], codec: FrameCodec = FrameCodec()) -> None:
    """Write one clip's shard atomically (a crash never leaves a half shard under the final name)."""
    tensors = {name: torch.from_numpy(np.ascontiguousarray(getattr(data, name)))
               for name in ("coeffs", "coeffs_full", "landmarks", "mels")}
    tensors.update(_frame_tensors(data.frames, codec))
    metadata = {**metadata, "version": str(SHARD_VERSION), "frame_codec": codec.kind,
                "frame_size": str(data.frames.shape[1])}
    if codec.kind == "jpeg":
        metadata["jpeg_quality"] = str(codec.quality)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda handle: handle.write(safetensors_bytes(tensors, metadata=metadata)))


def target_path(folder: Path, clip_id: str) -> Path:
    """Where the lip-only targets of clip ``clip_id`` are kept in a targets folder."""
    return folder / f"{clip_id}.safetensors"


def read_metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


def decode_frame(data: np.ndarray, source: Path) -> np.ndarray:
    """The bytes of one JPEG / PNG frame -> (S, S, 3) RGB uint8."""
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{source}: a frame cannot be decoded; the shard is damaged: delete it and prepare again")
    return image[..., ::-1]


class ClipShard:
    """Read access to one shard: small arrays are loaded once and cached, frames read (and
    decoded) on demand.  Raw-frame shards (version 1, or ``raw`` codec) are read as they are."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._arrays: dict[str, np.ndarray] = {}
        with safe_open(str(self.path), framework="pt") as handle:
            self.metadata = dict(handle.metadata() or {})
            self.encoded = "frames" not in handle.keys()
            if self.encoded:
                self.num_frames, self.size = handle.get_slice("frame_ends").get_shape()[0], int(self.metadata["frame_size"])
            else:
                self.num_frames, self.size = handle.get_slice("frames").get_shape()[:2]

    def array(self, name: str) -> np.ndarray:
        """``coeffs``, ``coeffs_full``, ``landmarks`` or ``mels`` of every frame (or ``frame_ends``)."""
        if name not in self._arrays:
            with safe_open(str(self.path), framework="pt") as handle:
                self._arrays[name] = handle.get_tensor(name).numpy()
        return self._arrays[name]

    def frames(self, index: list[int] | np.ndarray) -> np.ndarray:
        """(n, S, S, 3) uint8 RGB frames ``index``."""
        ends = self.array("frame_ends") if self.encoded else None
        with safe_open(str(self.path), framework="pt") as handle:
            if ends is None:
                frames = handle.get_slice("frames")
                return np.stack([frames[int(i):int(i) + 1].numpy()[0] for i in index])
            files = handle.get_slice("frame_bytes")
            return np.stack([decode_frame(files[int(ends[i - 1]) if i else 0:int(ends[i])].numpy(), self.path)
                             for i in map(int, index)])


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
            raise InputError(f"{self.folder}: the manifest lists no usable clips "
                             f"({len(self.manifest.skipped)} skipped); see {MANIFEST} for why")
        self.shards = [ClipShard(self.folder / clip.shard) for clip in self.manifest.clips]

    def __len__(self) -> int:
        return len(self.shards)
