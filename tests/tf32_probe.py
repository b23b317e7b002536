"""Whether networks ran with TF32 allowed, while their caller allows it (PyTorch's default for
cuDNN convolutions).  The flags are read on every machine, GPU or not, so a CPU test can see them."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def tf32_allowed() -> bool:
    return torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32


@contextmanager
def tf32_seen_by(*modules: nn.Module) -> Iterator[list[bool]]:
    """Within the block TF32 is allowed; yields the list of :func:`tf32_allowed` at each forward of
    ``modules``.  Fails if the block leaves the caller's setting changed."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    seen: list[bool] = []
    handles = [module.register_forward_pre_hook(lambda module, args: seen.append(tf32_allowed())) for module in modules]
    try:
        yield seen
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32, "the caller's TF32 setting changed"
    finally:
        for handle in handles:
            handle.remove()
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
