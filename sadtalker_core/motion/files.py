"""Motion files: save / load a :class:`~sadtalker_core.motion.sequences.Motion`, and the official ``.mat``
coefficient files for interoperability with the SadTalker reference code.

Formats, chosen by the file suffix:

* ``.safetensors``: tensors ``expression`` (T, 64), ``pose`` (T, 6), optional ``blink`` (T,);
  metadata ``format`` = ``sadtalker-motion``, ``format_version``, ``fps``;
* ``.npz``: the same arrays plus 0-d ``format``, ``format_version`` and ``fps`` entries (read
  without pickle);
* ``.mat`` (official): ``coeff_3dmm`` float32 (T, 70) = [expression 64, angles 3, translation 3],
  the layout of ``Audio2Coeff.generate``; fps (always 25 there) and blink are not stored.  The
  official 3DMM files of a picture or video, (1, 73) / (N, 73) with the crop values appended and
  a ``full_3dmm`` entry, are read and written by :func:`read_coeff_mat` / :func:`write_coeff_mat`.

safetensors and npz keep the tensors' dtype; ``.mat`` coefficients are float32, as the official
code stores and reads them.  Writes go through a temporary file renamed into place, so a failed
write never leaves a half-written file under the target name.  Unreadable or malformed files
raise :class:`MotionFileError` naming the file.
"""
from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ..config import AudioConfig
from ..errors import MotionFileError
from ..io.atomic import write_atomically
from .sequences import COEFF_DIM, EXP_DIM, Motion

FORMAT_NAME = "sadtalker-motion"
FORMAT_VERSION = 1
#: coefficient widths of official .mat files: generated motion (70) and 3DMM extraction (73)
MAT_WIDTHS = (COEFF_DIM, COEFF_DIM + 3)
MAT_KEY = "coeff_3dmm"
MAT_FULL_KEY = "full_3dmm"
SUFFIXES = (".safetensors", ".npz", ".mat")
#: the frame rate of official .mat files (not stored in them)
MAT_FPS = AudioConfig().fps


def motion_from_coeffs(coeff: torch.Tensor, fps: int = MAT_FPS) -> Motion:
    """(N, 70) or (N, 73) coefficients (a generated motion, or the 3DMM of a video's frames) ->
    :class:`Motion` of expression ``[:, :64]`` and pose ``[:, 64:70]``."""
    if coeff.ndim != 2 or coeff.shape[1] < COEFF_DIM:
        raise MotionFileError(f"coefficients must be (N, 70) or (N, 73), got {tuple(coeff.shape)}")
    return Motion(expression=coeff[:, :EXP_DIM], pose=coeff[:, EXP_DIM:COEFF_DIM], fps=fps)


# --- writing ----------------------------------------------------------------------------------


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise MotionFileError(f"{path}: unknown motion file type '{path.suffix}'; use one of {', '.join(SUFFIXES)}")
    return suffix


def _motion_arrays(motion: Motion) -> dict[str, torch.Tensor]:
    tensors = {"expression": motion.expression, "pose": motion.pose}
    if motion.blink is not None:
        tensors["blink"] = motion.blink
    return {name: t.detach().cpu().contiguous() for name, t in tensors.items()}


def write_coeff_mat(path: str | os.PathLike, coeff: torch.Tensor, full: torch.Tensor | None = None) -> None:
    """Write an official coefficient file: ``coeff_3dmm`` (N, 70) or (N, 73) as float32, and,
    for the 3DMM file of a picture / video, ``full_3dmm`` (the first frame's 257 regressor
    outputs, (1, 257))."""
    from scipy.io import savemat

    path = Path(path)
    if coeff.ndim != 2 or coeff.shape[0] < 1 or coeff.shape[1] not in MAT_WIDTHS:
        raise MotionFileError(f"{path}: coeff_3dmm must be (N, 70) or (N, 73) with N >= 1, got {tuple(coeff.shape)}")
    entries = {MAT_KEY: coeff.detach().cpu().numpy().astype(np.float32)}
    if full is not None:
        entries[MAT_FULL_KEY] = full.detach().cpu().numpy().astype(np.float32)
    write_atomically(path, lambda handle: savemat(handle, entries))


def save_motion(motion: Motion, path: str | os.PathLike) -> None:
    """Save ``motion`` to ``path`` in the format its suffix names (see the module docstring)."""
    path = Path(path)
    suffix = _suffix(path)
    if suffix == ".mat":
        write_coeff_mat(path, motion.coeff_70())
        return
    tensors = _motion_arrays(motion)
    if suffix == ".safetensors":
        from safetensors.torch import save

        metadata = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "fps": str(motion.fps)}
        payload = save(tensors, metadata=metadata)
        write_atomically(path, lambda handle: handle.write(payload))
    else:
        arrays = {name: t.numpy() for name, t in tensors.items()}
        arrays.update(format=np.array(FORMAT_NAME), format_version=np.array(FORMAT_VERSION), fps=np.array(motion.fps))
        write_atomically(path, lambda handle: np.savez(handle, **arrays))


# --- reading ----------------------------------------------------------------------------------


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise MotionFileError(f"{path}: file not found")
    return path


def read_coeff_mat(path: str | os.PathLike, widths: tuple[int, ...] = MAT_WIDTHS) -> torch.Tensor:
    """``coeff_3dmm`` of an official ``.mat`` file as float32 (N, W), W in ``widths``: 70 for a
    generated motion, 73 for the 3DMM file of a picture (N = 1) or video (pass ``(73,)`` where
    a source face is needed)."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = _existing(path)
    try:
        entries = loadmat(path)
    except (MatReadError, ValueError, TypeError, OSError) as exc:
        raise MotionFileError(f"{path}: not a readable MATLAB .mat file ({exc})") from exc
    if MAT_KEY not in entries:
        found = ", ".join(k for k in entries if not k.startswith("__")) or "none"
        raise MotionFileError(f"{path}: no '{MAT_KEY}' entry (found: {found}); expected an official SadTalker coefficient file")
    coeff = np.asarray(entries[MAT_KEY])
    if coeff.ndim != 2 or coeff.shape[0] < 1 or coeff.shape[1] not in widths or not np.issubdtype(coeff.dtype, np.number):
        expected = " or ".join(f"(N, {w})" for w in widths)
        raise MotionFileError(f"{path}: '{MAT_KEY}' must be numbers shaped {expected} with N >= 1, "
                              f"got {coeff.dtype} {coeff.shape}")
    return torch.from_numpy(np.ascontiguousarray(coeff, dtype=np.float32))


def _check_format(path: Path, name: str, version: str, fps: str) -> int:
    if name != FORMAT_NAME:
        raise MotionFileError(f"{path}: not a SadTalker motion file (format '{name}', expected '{FORMAT_NAME}')")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise MotionFileError(f"{path}: motion format version {version} is not supported (this version reads "
                              f"up to {FORMAT_VERSION}); update ComfyUI-SadTalker or save the motion again")
    try:
        rate = int(fps)
    except ValueError:
        rate = 0
    if rate < 1:
        raise MotionFileError(f"{path}: fps must be a positive whole number, got '{fps}'")
    return rate


def _motion_from(path: Path, tensors: Mapping[str, torch.Tensor], fps: int) -> Motion:
    missing = [name for name in ("expression", "pose") if name not in tensors]
    if missing:
        raise MotionFileError(f"{path}: missing {', '.join(missing)} (found: {', '.join(tensors) or 'nothing'})")
    try:
        return Motion(expression=tensors["expression"], pose=tensors["pose"], fps=fps, blink=tensors.get("blink"))
    except ValueError as exc:
        raise MotionFileError(f"{path}: {exc}") from exc


def _load_safetensors(path: Path) -> Motion:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise MotionFileError(f"{path}: not a readable safetensors file ({exc})") from exc
    fps = _check_format(path, metadata.get("format", ""), metadata.get("format_version", ""), metadata.get("fps", ""))
    return _motion_from(path, tensors, fps)


def _load_npz(path: Path) -> Motion:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise MotionFileError(f"{path}: not a readable .npz archive ({exc})") from exc
    meta = {name: str(arrays.pop(name)) if name in arrays else "" for name in ("format", "format_version", "fps")}
    fps = _check_format(path, meta["format"], meta["format_version"], meta["fps"])
    return _motion_from(path, {name: torch.from_numpy(array) for name, array in arrays.items()}, fps)


def load_motion(path: str | os.PathLike) -> Motion:
    """Load a :class:`Motion` saved by :func:`save_motion`, or an official ``.mat`` coefficient
    file ((T, 70) generated motion or (N, 73) video 3DMM; fps 25, no blink)."""
    path = Path(path)
    suffix = _suffix(path)
    path = _existing(path)
    if suffix == ".mat":
        return motion_from_coeffs(read_coeff_mat(path))
    return _load_safetensors(path) if suffix == ".safetensors" else _load_npz(path)
