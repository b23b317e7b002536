"""Official SadTalker checkpoint files -> state dicts: the one place that knows file formats.

Every official file is described by a :class:`FileLayout`: its container (safetensors bundle,
torch pickle dict, flat torch pickle) and where each sub-network's tensors sit in it (a key
prefix or a top-level entry).  Sub-networks are named by *sections*: ``kp_detector``,
``generator``, ``he_estimator``, ``mapping``, ``audio2exp``, ``audio2pose``, ``face_3drecon``,
``retinaface``, ``awing_fan``, ``parsenet`` (facexlib's face parser).

Loading is strict: :func:`load_into` checks keys and shapes against the module before copying,
treats BatchNorm's ``num_batches_tracked`` as optional, and raises :class:`CheckpointError`
naming the file, what was expected and what was found.  Torch pickles are read with
``weights_only=True``; safetensors files are read tensor by tensor (only the requested section),
so a 725 MB bundle is never held twice in memory.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, TypeVar

import torch
from torch import nn

from .errors import CheckpointError

OPTIONAL_SUFFIXES = ("num_batches_tracked",)


@dataclass(frozen=True)
class FileLayout:
    """Container format of one official file and where each section's tensors live in it.

    ``sections`` maps a section name to a key prefix (safetensors / flat torch files) or to a
    top-level dict entry (torch pickle dicts).  ``strip_prefixes`` are removed from keys that
    carry them (RetinaFace's DataParallel ``module.``).
    """

    name: str
    container: str  # "safetensors" | "torch" | "torch_flat"
    sections: Mapping[str, str]
    strip_prefixes: tuple[str, ...] = ()


_BUNDLE_SECTIONS = {
    "kp_detector": "kp_extractor.",
    "generator": "generator.",
    "audio2exp": "audio2exp.",
    "audio2pose": "audio2pose.",
    "face_3drecon": "face_3drecon.",
}

OFFICIAL_LAYOUTS: dict[str, FileLayout] = {
    layout.name: layout
    for layout in (
        FileLayout("SadTalker_V0.0.2_256.safetensors", "safetensors", _BUNDLE_SECTIONS),
        FileLayout("SadTalker_V0.0.2_512.safetensors", "safetensors", _BUNDLE_SECTIONS),
        FileLayout("mapping_00229-model.pth.tar", "torch", {"mapping": "mapping"}),
        FileLayout("mapping_00109-model.pth.tar", "torch", {"mapping": "mapping"}),
        FileLayout("auido2exp_00300-model.pth", "torch", {"audio2exp": "model"}),
        FileLayout("auido2pose_00140-model.pth", "torch", {"audio2pose": "model"}),
        FileLayout(
            "facevid2vid_00189-model.pth.tar",
            "torch",
            {"generator": "generator", "kp_detector": "kp_detector", "he_estimator": "he_estimator"},
        ),
        FileLayout("epoch_20.pth", "torch", {"face_3drecon": "net_recon"}),
        FileLayout("detection_Resnet50_Final.pth", "torch_flat", {"retinaface": ""}, ("module.",)),
        FileLayout("alignment_WFLW_4HG.pth", "torch", {"awing_fan": "state_dict"}),
        FileLayout("parsing_parsenet.pth", "torch_flat", {"parsenet": ""}),
    )
}


def layout_for(path: str | os.PathLike) -> FileLayout:
    """The layout of an official file, chosen by its file name (any file name ending works for
    the bundle, so renamed copies such as ``SadTalker_V0.0.2_256 (1).safetensors`` still load)."""
    name = Path(path).name
    if name in OFFICIAL_LAYOUTS:
        return OFFICIAL_LAYOUTS[name]
    if name.endswith(".safetensors"):
        return OFFICIAL_LAYOUTS["SadTalker_V0.0.2_256.safetensors"]
    known = ", ".join(sorted(OFFICIAL_LAYOUTS))
    raise CheckpointError(f"{path}: not an official SadTalker file name; expected one of: {known}")


def read_section(path: str | os.PathLike, section: str, layout: FileLayout | None = None,
                 into: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Read one section (sub-network) of an official file as a CPU state dict with inner keys.

    ``into`` (e.g. a module's ``state_dict()``): contiguous CPU tensors that safetensors tensors
    of the same key, shape and dtype are read into instead of new memory."""
    path = Path(path)
    layout = layout or layout_for(path)
    if section not in layout.sections:
        raise CheckpointError(
            f"{path}: a {layout.name} file holds no '{section}' weights "
            f"(it holds: {', '.join(layout.sections)}); pick the file that does"
        )
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found (expected the official {layout.name})")
    where = layout.sections[section]
    if layout.container == "safetensors":
        state = _read_safetensors_prefix(path, where, into or {})
    else:
        obj = _torch_load(path)
        state = _pick_torch_section(path, obj, layout, where)
    if not state:
        raise CheckpointError(
            f"{path}: no tensors for '{section}' (looked for keys under '{where}'); "
            f"the file is not a {layout.name} or is damaged"
        )
    return _strip(state, layout.strip_prefixes)


#: safetensors dtype names -> torch dtypes (the ones checkpoints use)
_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}


def _read_safetensors_prefix(path: Path, prefix: str, into: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix``, each read from the file straight into memory: the tensor of
    ``into`` with its inner key where it fits, else a new one.

    No memory map: mapped file pages would count in the process's resident memory next to the
    copies (or, used in place, tie the weights to a file the user may replace on disk).
    """
    def damaged(why: str) -> CheckpointError:
        return CheckpointError(
            f"{path}: cannot read as safetensors ({why}); the file is truncated or not a safetensors "
            "file: download it again"
        )

    size = path.stat().st_size
    with open(path, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        if not 2 <= header_size <= size - 8:
            raise damaged(f"header of {header_size} bytes in a {size}-byte file")
        try:
            header = json.loads(f.read(header_size))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise damaged(f"unreadable header: {exc}") from exc
        if not isinstance(header, dict):
            raise damaged("the header is not a table of tensors")
        state = {}
        for key, info in header.items():
            if key == "__metadata__" or not key.startswith(prefix):
                continue
            try:
                (begin, end), dtype_name, shape = info["data_offsets"], info["dtype"], tuple(int(n) for n in info["shape"])
            except (KeyError, TypeError, ValueError) as exc:
                raise damaged(f"malformed header entry for tensor {key}") from exc
            if dtype_name not in _SAFETENSORS_DTYPES:
                raise damaged(f"tensor {key} has dtype {dtype_name}")
            dtype = _SAFETENSORS_DTYPES[dtype_name]
            tensor = into.get(key[len(prefix):])
            if tensor is None or tensor.dtype != dtype or tuple(tensor.shape) != shape \
                    or tensor.device.type != "cpu" or not tensor.is_contiguous():
                tensor = torch.empty(shape, dtype=dtype)
            if tensor.numel() * tensor.element_size() != end - begin:
                raise damaged(f"tensor {key} has {end - begin} bytes for shape {info['shape']}")
            f.seek(8 + header_size + begin)
            if f.readinto(tensor.view(-1).view(torch.uint8).numpy()) != end - begin:
                raise damaged(f"tensor {key} ends past the end of the file")
            state[key[len(prefix):]] = tensor
        return state


#: how other kinds of files start, to say what a file given as a checkpoint really is
_OTHER_FILE_KINDS = (
    (b"\x89PNG", "a PNG picture"),
    (b"\xff\xd8\xff", "a JPEG picture"),
    (b"<!DOCTYPE", "a web page (HTML), not the file itself"),
    (b"<html", "a web page (HTML), not the file itself"),
    (b"version https://git-lfs", "a Git LFS pointer, not the file itself"),
)


def _not_a_checkpoint(path: Path) -> str | None:
    """Why ``path`` cannot be a PyTorch checkpoint at all (None when it can be: a zip archive, the
    format since torch 1.6, or a pickle, the legacy format)."""
    if zipfile.is_zipfile(path):
        return None
    with open(path, "rb") as handle:
        head = handle.read(64)
    if head.startswith(b"\x80"):  # pickle protocol 2+
        return None
    if not head:
        return "it is empty"
    for magic, kind in _OTHER_FILE_KINDS:
        if head.lstrip().lower().startswith(magic.lower()):
            return f"it is {kind}"
    return "it is neither a zip archive nor a pickle"


def _torch_load(path: Path) -> object:
    """The object a torch checkpoint holds, read with ``weights_only=True``; anything else -- not a
    checkpoint, damaged, or holding code -- is a :class:`CheckpointError` asking for a fresh download."""
    fix = "download it again"
    why = _not_a_checkpoint(path)
    if why is not None:
        raise CheckpointError(f"{path}: not a PyTorch checkpoint or damaged ({why}); {fix}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported (?:global: GLOBAL \S+|operand \S+|[^.\n]*)", str(exc))
        detail = f" ({found.group(0)})" if found else ""
        raise CheckpointError(
            f"{path}: refused to load: it holds more than tensors and numbers{detail}, which the official files "
            f"never do; it is damaged or not the official file: {fix}"
        ) from exc
    except MemoryError:
        raise
    except Exception as exc:  # a damaged file fails in many ways inside the unpickler
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(
            f"{path}: cannot read as a PyTorch checkpoint ({first_line}); the file is truncated or damaged: {fix}"
        ) from exc


def _pick_torch_section(path: Path, obj: object, layout: FileLayout, where: str) -> dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a dict of weights, found {type(obj).__name__}")
    if layout.container == "torch_flat":
        inner = obj
    else:
        if where not in obj:
            found = ", ".join(map(str, list(obj)[:12]))
            raise CheckpointError(
                f"{path}: expected a {layout.name} with a top-level '{where}' entry, found entries: {found}"
            )
        inner = obj[where]
        if not isinstance(inner, Mapping):
            raise CheckpointError(f"{path}: entry '{where}' is {type(inner).__name__}, expected a state dict")
    state = {str(k): v for k, v in inner.items()}
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: entries that are not tensors in '{where}': {', '.join(bad[:5])}")
    return state


def _strip(state: dict[str, torch.Tensor], prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    if not prefixes:
        return state
    out = {}
    for key, value in state.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        out[key] = value
    return out


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> nn.Module:
    """Copy ``state`` into ``module`` after a strict check of keys and shapes.

    ``source`` names where the weights came from (file and section) for the error message.
    ``num_batches_tracked`` buffers may be absent from the file; every other key must match.
    Tensors of ``state`` that already are the module's own (read in place by
    :func:`load_section_into`) are left as they are.
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(OPTIONAL_SUFFIXES)]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [
        f"{k}: expected {tuple(expected[k].shape)}, found {tuple(state[k].shape)}"
        for k in state
        if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:4])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:4])})")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} shape mismatches (e.g. {'; '.join(wrong_shape[:3])})")
    if problems:
        raise CheckpointError(
            f"{source}: weights do not fit {type(module).__name__}: " + "; ".join(problems)
            + ". Is this the right official file for this network (and not a different version)?"
        )
    module.load_state_dict({k: v for k, v in state.items() if v.data_ptr() != expected[k].data_ptr()}, strict=False)
    return module


def load_section_into(module: nn.Module, path: str | os.PathLike, section: str) -> nn.Module:
    """Read ``section`` of the official file at ``path`` and load it strictly into ``module``
    (safetensors tensors are read straight into the module's own tensors where shape and dtype
    match: the weights are never held twice)."""
    state = read_section(path, section, into=module.state_dict())
    return load_into(module, state, f"{path} [{section}]")


Net = TypeVar("Net", bound=nn.Module)


def load_network(net: Net | Callable[[Mapping[str, torch.Tensor]], Net], path: str | os.PathLike, section: str,
                 device: torch.device | str = "cpu") -> Net:
    """``net`` with ``section`` of the official file at ``path`` loaded strictly
    (:func:`load_section_into`), ready for inference: eval mode, no gradients, on ``device``.
    Every network's loader is this call.  ``net`` may also be a function building the network
    from the section's tensors, for a network whose size is read from the file."""
    if isinstance(net, nn.Module):
        loaded = load_section_into(net, path, section)
    else:
        state = read_section(path, section)
        loaded = load_into(net(state), state, f"{path} [{section}]")
    return loaded.eval().requires_grad_(False).to(device)
