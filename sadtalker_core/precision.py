"""The precision setting, one vocabulary for the command line, the nodes and the library.

* ``exact``: float32, the official numbers (every conformance golden is reproduced);
* ``fast``: the reduced precision the device computes natively, bfloat16 on CUDA GPUs from Ampere
  on and on CPUs with AVX512-BF16 or AMX, float16 on older CUDA GPUs; float16 on Apple GPUs
  (``mps``); on Intel GPUs (``xpu``) bfloat16 where PyTorch reports it native, else float16;
  float16 on any other accelerator (DirectML's ``privateuseone`` ...); refused on a CPU without
  bfloat16 arithmetic (emulated bfloat16 on a plain AVX2 CPU is many times slower than float32);
* ``auto``: fast on any accelerator, exact on the CPU.

:func:`resolve` is the one place that turns a setting into ``exact`` / ``fast`` for a device, and
:func:`compute_dtype` into the dtype the networks run in; :func:`default_device` is the device
chosen when none is named.  Whatever the setting, float32 work is
done in float32: every network runs inside :func:`float32_arithmetic`.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from enum import Enum

import torch

from .errors import SettingError


class Precision(str, Enum):
    AUTO = "auto"
    EXACT = "exact"
    FAST = "fast"


def default_device() -> torch.device:
    """The device used when none is named: a CUDA GPU, else an Intel GPU (``xpu``), else an Apple
    GPU (``mps``), else the CPU.  DirectML is never chosen by itself: its device comes from
    ``torch_directml.device()``, which ComfyUI (``--directml``) or the caller hands over."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        return torch.device("xpu")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _xpu_has_bf16() -> bool:
    """Whether PyTorch reports native bfloat16 on its Intel GPU (Arc and Data Center GPUs compute it
    in their matrix engines; older integrated ones do not); False where it cannot say."""
    supported = getattr(getattr(torch, "xpu", None), "is_bf16_supported", None)
    if supported is None:
        return False
    try:
        return bool(supported(including_emulation=False))
    except TypeError:  # PyTorch before the including_emulation argument
        return bool(supported())


def reduced_dtype(device: torch.device | str) -> torch.dtype | None:
    """The reduced precision ``device`` computes natively: bfloat16 (CUDA compute capability >= 8,
    CPUs with AVX512-BF16 / AMX, Intel GPUs that report it), float16 on older CUDA GPUs, on other
    Intel GPUs, on Apple GPUs (``mps``, where float16 is the precision Metal computes fastest) and on
    any other accelerator (DirectML, whose bfloat16 support depends on the driver); None on a CPU
    without bfloat16 arithmetic."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16
    if device.type == "xpu":
        return torch.bfloat16 if _xpu_has_bf16() else torch.float16
    if device.type == "cpu":
        native = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        return torch.bfloat16 if native else None
    return torch.float16


def resolve(precision: Precision | str, device: torch.device | str) -> Precision:
    """``precision`` made concrete for ``device``: :attr:`Precision.EXACT` or :attr:`Precision.FAST`.
    ``fast`` on a device without native reduced precision is a :class:`SettingError`."""
    precision, device = Precision(precision), torch.device(device)
    if precision is Precision.AUTO:
        return Precision.EXACT if device.type == "cpu" else Precision.FAST
    if precision is Precision.FAST and reduced_dtype(device) is None:
        raise SettingError(
            f"precision 'fast' needs bfloat16 or float16 arithmetic, which {device} does not have natively "
            "(CPUs need AVX512-BF16 or AMX); use 'exact' or 'auto'"
        )
    return precision


def compute_dtype(precision: Precision | str, device: torch.device | str) -> torch.dtype:
    """The dtype networks run in for ``precision`` on ``device`` (float32 for exact)."""
    if resolve(precision, device) is Precision.FAST:
        return reduced_dtype(device)
    return torch.float32


#: PyTorch >= 2.9 switches TF32 through ``fp32_precision`` settings; reading the legacy ``allow_tf32``
#: flags after anything set the new ones raises there (and other nodes of a ComfyUI may well have).
_FP32_PRECISION_API = hasattr(torch.backends.cuda.matmul, "fp32_precision")


def _tf32_switches() -> tuple[tuple[object, str, object, object], ...]:
    """(holder, attribute, float32 value, TF32 value) of the cuDNN-convolution and cuBLAS-matmul switches."""
    if _FP32_PRECISION_API:
        return ((torch.backends.cudnn.conv, "fp32_precision", "ieee", "tf32"),
                (torch.backends.cuda.matmul, "fp32_precision", "ieee", "tf32"))
    return ((torch.backends.cudnn, "allow_tf32", False, True), (torch.backends.cuda.matmul, "allow_tf32", False, True))


def allow_tf32(allowed: bool) -> None:
    """Let float32 convolutions and matrix products on CUDA use TF32, or not (process-wide)."""
    for holder, name, ieee, tf32 in _tf32_switches():
        setattr(holder, name, tf32 if allowed else ieee)


def tf32_allowed() -> bool:
    """Whether convolutions or matrix products may use TF32 now (read through the API in use)."""
    return any(getattr(holder, name) == tf32 for holder, name, _, tf32 in _tf32_switches())


@contextmanager
def tf32_setting(allowed: bool) -> Iterator[None]:
    """Within the block TF32 is allowed or not (:func:`allow_tf32`); the caller's exact settings come
    back after it."""
    switches = _tf32_switches()
    saved = [getattr(holder, name) for holder, name, _, _ in switches]
    allow_tf32(allowed)
    try:
        yield
    finally:
        for (holder, name, _, _), value in zip(switches, saved):
            setattr(holder, name, value)


def float32_arithmetic() -> AbstractContextManager[None]:
    """Within the block, float32 convolutions and matrix products compute in float32 on CUDA GPUs
    too; the caller's settings come back after it (also as a decorator).

    PyTorch lets cuDNN run float32 convolutions as TF32 (10 mantissa bits) by default: on an
    NVIDIA H200 that moved the rendered frames by up to 2 levels of 8 bits from the float32 result
    (benchmarks/RESULTS.md, section 6).  No effect on the CPU.
    """
    return tf32_setting(False)
