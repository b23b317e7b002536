"""``batch_size`` 0: the largest render step that fits the device's free memory.

On a GPU the generator renders a whole step at once, and its activations grow with the frames of
the step: :data:`FRAME_BYTES_256_FLOAT32` per frame at render size 256 in float32 (the figure of
:class:`~sadtalker_core.render.generator_settings.GeneratorSettings`, the 256x256 decoder stage),
scaled by the pixels of the render size and the bytes of the compute dtype.  These are estimates
from that figure, with :data:`HEADROOM` kept free for the rest of the step.  On the CPU the
generator takes one frame per call whatever the step (batching gains no speed there): auto is
:data:`CPU_BATCH_SIZE`.  The free memory is asked of the device's own PyTorch backend (CUDA, Intel
``xpu``, Apple ``mps``); a device that cannot say (DirectML, an older PyTorch) is taken to have
:data:`UNKNOWN_FREE_BYTES` free.
"""
from __future__ import annotations

import torch

from ..errors import DeviceMemoryError
from ..precision import Precision, compute_dtype

AUTO = 0  # the batch_size that asks for this choice
FRAME_BYTES_256_FLOAT32 = 300 * 2**20
HEADROOM = 0.8  # the share of the free memory the frames may take
CPU_BATCH_SIZE = 1
MAX_BATCH_SIZE = 128  # the largest step the Render node offers
#: free memory assumed on a device that does not report it: what the smallest GPUs ComfyUI runs on
#: leave after their own models (a few frames at 256 px, one at 512 px in float32)
UNKNOWN_FREE_BYTES = 2 * 2**30


def frame_bytes(size: int, precision: Precision | str, device: torch.device | str) -> int:
    """Estimated device memory one more frame of a render step takes at render ``size``."""
    dtype_bytes = torch.empty((), dtype=compute_dtype(precision, device)).element_size()
    return FRAME_BYTES_256_FLOAT32 * (size // 256) ** 2 * dtype_bytes // 4


def free_bytes(device: torch.device) -> int:
    """Free memory of a GPU ``device``: on CUDA and Intel ``xpu`` what the driver reports, PyTorch's
    cached blocks counted free; on Apple ``mps`` (memory shared with the CPU) what Metal recommends
    the process use less what its tensors hold now; elsewhere, or where this PyTorch has no such call,
    :data:`UNKNOWN_FREE_BYTES`."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    xpu, mps = getattr(torch, "xpu", None), getattr(torch, "mps", None)
    if device.type == "xpu" and all(hasattr(xpu, name) for name in ("mem_get_info", "memory_reserved",
                                                                        "memory_allocated")):
        free, _ = xpu.mem_get_info(device)
        return free + xpu.memory_reserved(device) - xpu.memory_allocated(device)
    if device.type == "mps" and all(hasattr(mps, name) for name in ("recommended_max_memory",
                                                                        "current_allocated_memory")):
        return max(mps.recommended_max_memory() - mps.current_allocated_memory(), 0)
    return UNKNOWN_FREE_BYTES


def auto_batch_size(size: int, precision: Precision | str, device: torch.device | str,
                    free: int | None = None) -> int:
    """The frames per render step for ``batch_size`` 0: on the CPU :data:`CPU_BATCH_SIZE`; on a GPU
    (any accelerator) as many as fit ``free`` bytes (default: :func:`free_bytes` now), at most
    :data:`MAX_BATCH_SIZE`.
    Too little memory for one frame is a :class:`DeviceMemoryError` naming what is needed."""
    device = torch.device(device)
    if device.type == "cpu":
        return CPU_BATCH_SIZE
    free = free_bytes(device) if free is None else free
    per_frame = frame_bytes(size, precision, device)
    frames = int(free * HEADROOM) // per_frame
    if frames < 1:
        raise DeviceMemoryError(
            f"rendering at size {size} ({Precision(precision).value} precision) needs about "
            f"{per_frame / HEADROOM / 2**30:.2f} GiB free on {device} for one frame, but {free / 2**30:.2f} GiB "
            "are free: close other programs using the GPU, use size 256 or fast precision, or render on the CPU")
    return min(frames, MAX_BATCH_SIZE)
