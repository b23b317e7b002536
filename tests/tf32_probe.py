"""Whether networks ran with TF32 allowed, while their caller allows it (PyTorch's default for
cuDNN convolutions).  The switches are read on every machine, GPU or not, so a CPU test can see them."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from sadtalker_core.precision import tf32_allowed, tf32_setting


@contextmanager
def tf32_seen_by(*modules: nn.Module) -> Iterator[list[bool]]:
    """Within the block TF32 is allowed; yields the list of :func:`tf32_allowed` at each forward of
    ``modules``.  Fails if the block leaves the caller's setting changed."""
    seen: list[bool] = []
    handles = [module.register_forward_pre_hook(lambda module, args: seen.append(tf32_allowed())) for module in modules]
    try:
        with tf32_setting(True):
            yield seen
            assert tf32_allowed(), "the caller's TF32 setting changed"
    finally:
        for handle in handles:
            handle.remove()
