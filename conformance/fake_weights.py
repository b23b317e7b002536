"""Fake official checkpoints: deterministic pseudo-random tensors in the official files' layouts.

No official checkpoint can be shipped with the repository, so the reference goldens were computed by
the official implementation loading files made by the rule below; files written here follow the
same rule, so every golden passing with them proves the tensors are the same.  The layouts (keys,
shapes, dtypes, containers) come from the manifests in ``tests/data/manifests`` (see its README).

The rule, for every manifest key ``k`` of shape ``s`` (for ``torch`` containers ``k`` is
``<top-level key>.<state-dict key>``):

* ``g = numpy.random.default_rng(zlib.crc32(k)).standard_normal(s)``, in float64;
* integer tensors (``num_batches_tracked``) are zeros; ``running_mean`` zeros, ``running_var`` ones;
* an entry carrying ``value`` (the keypoint detector's fixed anti-alias kernel) is that value;
* tensors of two or more dimensions: ``g * gain / sqrt(prod(s[1:]))``, ``gain`` 1 unless the key
  ends with one of :data:`GAINS`;
* one-dimensional ``weight``: ``1 + 0.05 g``; any other float tensor: ``0.02 g``;
* spectral-norm ``weight_u`` / ``weight_v`` are the leading left / right singular vectors of the
  sibling ``weight_orig`` (as a ``(s0, -1)`` matrix), signed so that ``sum(u) >= 0``;
* values are cast from float64 to the manifest dtype at the end.

``python -m conformance.fake_weights DIR [NAME ...]`` writes them (by default every file the goldens
need); ``python -m conformance --fake-weights --weights DIR`` writes what is missing, then checks.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

MANIFESTS = Path(__file__).resolve().parents[1] / "tests" / "data" / "manifests"

#: key suffix -> gain of the weight (1 elsewhere); they keep fake networks in a useful range: keypoints
#: spread over the motion grid, small mapping offsets, selective dense-motion masks, a few dozen
#: RetinaFace detections past SadTalker's 0.97 threshold, bounded AWing heatmaps.
GAINS: tuple[tuple[str, float], ...] = (
    ("kp_extractor.kp.weight", 10.0),
    ("kp_detector.kp.weight", 10.0),
    ("mapping.fc_exp.weight", 0.1),
    ("mapping.fc_t.weight", 0.1),
    ("generator.dense_motion_network.mask.weight", 10.0),
    *((f"module.ClassHead.{i}.conv1x1.weight", 0.04) for i in range(3)),
    *((f"module.BboxHead.{i}.conv1x1.weight", 0.02) for i in range(3)),
    *((f"module.LandmarkHead.{i}.conv1x1.weight", 0.02) for i in range(3)),
    *((f"state_dict.{stem}{i}.weight", 0.3) for stem in ("bl", "al") for i in range(3)),
)

#: the official files of the core: the 256 bundle (the fake 512 bundle would hold the same tensors), both
#: mapping networks and the legacy files the bundle replaces.
CORE_FILES = (
    "SadTalker_V0.0.2_256.safetensors",
    "mapping_00229-model.pth.tar",
    "mapping_00109-model.pth.tar",
    "facevid2vid_00189-model.pth.tar",
    "auido2exp_00300-model.pth",
    "auido2pose_00140-model.pth",
    "epoch_20.pth",
)
#: what the goldens load: the core files, the face detector (RetinaFace) and the landmark network (AWing FAN).
GOLDEN_FILES = (*CORE_FILES, "detection_Resnet50_Final.pth", "alignment_WFLW_4HG.pth")

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "int64": torch.int64}


def available() -> list[str]:
    """Names of the official files that have a manifest."""
    return sorted(path.name.removesuffix(".json") for path in MANIFESTS.glob("*.json"))


def manifest(name: str) -> dict:
    """The manifest of official file ``name``."""
    path = MANIFESTS / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no manifest for {name!r}; known: {', '.join(available())}")
    return json.loads(path.read_text(encoding="utf-8"))


def _draw(key: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(key.encode("utf-8"))).standard_normal(shape)


def _gain(key: str) -> float:
    return next((gain for suffix, gain in GAINS if key.endswith(suffix)), 1.0)


def _values(key: str, shape: tuple[int, ...]) -> np.ndarray:
    """float64 values of a tensor drawn from its own seed (every float tensor but spectral vectors)."""
    leaf = key.rpartition(".")[2]
    if leaf == "running_mean":
        return np.zeros(shape)
    if leaf == "running_var":
        return np.ones(shape)
    if len(shape) >= 2:
        return _draw(key, shape) * (_gain(key) / math.sqrt(math.prod(shape[1:])))
    if len(shape) == 1 and leaf == "weight":
        return 1.0 + 0.05 * _draw(key, shape)
    return 0.02 * _draw(key, shape)


def _singular_vectors(orig_key: str, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    matrix = _values(orig_key, shape).reshape(shape[0], -1)
    left, _, right = np.linalg.svd(matrix, full_matrices=False)
    sign = -1.0 if left[:, 0].sum() < 0 else 1.0
    return sign * left[:, 0], sign * right[0]


def fake_tensors(layout: dict) -> OrderedDict[str, torch.Tensor]:
    """Every tensor of a manifest, by its full key, following the module's rule."""
    specs = layout["tensors"]
    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    tensors: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, spec in specs.items():
        shape = tuple(int(n) for n in spec["shape"])
        dtype = _DTYPES[spec.get("dtype", "float32")]
        leaf = key.rpartition(".")[2]
        if not dtype.is_floating_point:
            tensors[key] = torch.zeros(shape, dtype=dtype)
            continue
        if "value" in spec:
            values = np.asarray(spec["value"], dtype=np.float64).reshape(shape)
        elif leaf in ("weight_u", "weight_v"):
            orig = key.removesuffix(leaf) + "weight_orig"
            if orig not in vectors:
                vectors[orig] = _singular_vectors(orig, tuple(specs[orig]["shape"]))
            values = vectors[orig][leaf == "weight_v"]
        else:
            values = _values(key, shape)
        tensors[key] = torch.from_numpy(np.ascontiguousarray(values)).to(dtype)
    return tensors


def checkpoint_object(layout: dict) -> dict:
    """What the official file holds: the flat tensors, or for ``torch`` containers a dict of state dicts
    (split at the first dot of each key) and integers such as ``epoch``."""
    tensors = fake_tensors(layout)
    if layout["container"] != "torch":
        return tensors
    content: dict = {}
    for top, kind in layout["top_level"].items():
        content[top] = OrderedDict() if kind == "state_dict" else int(kind["int"])
    for key, tensor in tensors.items():
        top, _, inner = key.partition(".")
        content[top][inner] = tensor
    return content


def write_fake_checkpoint(name: str, path: str | os.PathLike) -> Path:
    """Write fake official file ``name`` to ``path`` (through a partial file, renamed when complete)."""
    layout = manifest(name)
    target = Path(path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    content = checkpoint_object(layout)
    try:
        if layout["container"] == "safetensors":
            from safetensors.torch import save_file

            save_file(content, str(partial))
        else:
            torch.save(content, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def ensure_fake_checkpoints(folder: str | os.PathLike, names: Iterable[str] = GOLDEN_FILES) -> Path:
    """Write every fake file of ``names`` missing from ``folder`` (files already there are kept)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if not (folder / name).is_file():
            write_fake_checkpoint(name, folder / name)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.fake_weights", description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="where to write the files (missing ones only)")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"official file names, of: {', '.join(available())} (default: those the goldens need)")
    args = parser.parse_args(argv)
    args.names = args.names or list(GOLDEN_FILES)
    unknown = sorted(set(args.names) - set(available()))
    if unknown:
        parser.error(f"no manifest for {', '.join(unknown)}")
    ensure_fake_checkpoints(args.folder, args.names)
    print(f"fake checkpoints in {args.folder}: {', '.join(args.names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
