"""Render speed settings: numeric precision, memory layout and optional compilation of the face
renderer's per-frame path, applied once to the loaded generator.

* ``exact`` (default): float32 everywhere; reproduces the official renderer within the
  conformance goldens' tolerances.
* ``fast``: the generator's convolution stacks (dense-motion hourglass and its mask / occlusion
  heads, the feature decoder and the SPADE image decoder) run in bfloat16 where the hardware
  computes it natively (CPUs with AVX512-BF16 or AMX, CUDA GPUs from Ampere on), float16 on older
  CUDA GPUs.  Everything the head motion depends on stays float32: keypoint detection, MappingNet
  and the keypoint transformation (run outside the generator), the sparse motions, the softmax
  over motions and the dense deformation, the warping, and the sigmoid outputs.  Frames differ
  from exact mode by PSNR > 35 dB; keypoints do not differ at all.

Neither setting changes the networks: they are cast and wrapped at their boundaries by forward
hooks (inputs converted to the compute dtype and layout, chosen outputs back to float32).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch
from torch import nn

from .networks.generator import OcclusionAwareSPADEGenerator


class Precision(str, Enum):
    EXACT = "exact"  # float32: the official numbers
    FAST = "fast"  # bfloat16 / float16 convolutions where the device has them


@dataclass(frozen=True)
class RenderSpeed:
    """How the generator computes: ``precision``, channels-last activations (``channels_last``:
    faster oneDNN convolutions on CPU, tensor cores on GPU) and ``compile`` (``torch.compile`` of
    the per-frame networks: pays a few minutes of compilation per process, for long clips)."""

    precision: Precision = Precision.EXACT
    channels_last: bool = True
    compile: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision(self.precision))


EXACT = RenderSpeed()
FAST = RenderSpeed(Precision.FAST)


def fast_dtype(device: torch.device | str) -> torch.dtype:
    """The reduced precision ``fast`` mode computes in on ``device``: bfloat16 where it is native
    (CUDA compute capability >= 8, CPUs with AVX512-BF16 / AMX), float16 on older GPUs, and
    float32 on CPUs without bfloat16 arithmetic (there ``fast`` = ``exact``)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16
    if device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return torch.float32


def apply_render_speed(generator: OcclusionAwareSPADEGenerator, speed: RenderSpeed = EXACT) -> OcclusionAwareSPADEGenerator:
    """Set ``generator`` (loaded, on its device) up for ``speed``, in place; returns it.  Call once,
    right after loading: the chosen convolution stacks are cast to the compute dtype and get
    hooks converting their inputs (dtype, layout) and the precision-sensitive heads' outputs
    back to float32."""
    device = next(generator.parameters()).device
    dtype = fast_dtype(device) if speed.precision is Precision.FAST else torch.float32
    layout_2d = torch.channels_last if speed.channels_last else torch.contiguous_format
    layout_3d = torch.channels_last_3d if speed.channels_last else torch.contiguous_format
    motion = generator.dense_motion_network
    for stack, layout in ((motion.hourglass, layout_3d), (generator.third, layout_2d), (generator.decoder, layout_2d)):
        _compute_in(stack, dtype, layout)
    # the 7x7x7 mask convolution runs faster on a contiguous volume, which the occlusion head
    # also reads as a 2D map without a copy
    _compute_in(motion.mask, dtype, torch.contiguous_format)
    heads = [motion.mask, generator.decoder.conv_img] + ([motion.occlusion] if motion.occlusion is not None else [])
    for module in heads[1:] + [generator.fourth]:
        _cast(module, dtype, layout_2d)
    for head in heads:
        head.register_forward_hook(_output_to_float32)
    return generator


def _cast(module: nn.Module, dtype: torch.dtype, layout: torch.memory_format) -> None:
    """Parameters to ``dtype``; convolution weights to ``layout`` where it fits their rank."""
    module.to(dtype)
    for param in module.parameters():
        if (param.dim() == 5) == (layout == torch.channels_last_3d) and param.dim() in (4, 5):
            param.data = param.data.contiguous(memory_format=layout)


def _compute_in(module: nn.Module, dtype: torch.dtype, layout: torch.memory_format) -> None:
    """Run ``module`` in ``dtype`` and ``layout``: cast its parameters, convert its tensor inputs."""
    _cast(module, dtype, layout)

    def convert(_: nn.Module, args: tuple) -> tuple:
        return tuple(a.to(dtype=dtype, memory_format=layout) if isinstance(a, torch.Tensor) and a.is_floating_point()
                     else a for a in args)

    module.register_forward_pre_hook(convert)


def _output_to_float32(_: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    return output.float()
