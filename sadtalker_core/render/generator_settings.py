"""How the face renderer's generator computes (:class:`GeneratorSettings`):
numeric precision, memory layout, frames per generator call and optional compilation of its
per-frame path, applied once to the loaded generator.

The precision (:mod:`sadtalker_core.precision`):

* ``exact`` (default): float32 everywhere; reproduces the official renderer within the
  conformance goldens' tolerances.
* ``fast``: the generator's convolution stacks (dense-motion hourglass and its mask / occlusion
  heads, the feature decoder and the SPADE image decoder) run in the reduced precision the device
  computes natively (bfloat16 on CPUs with AVX512-BF16 or AMX and on CUDA GPUs from Ampere on,
  float16 on older CUDA GPUs and on Apple ``mps`` GPUs; :mod:`sadtalker_core.precision` has the
  table); refused on a device without one.
* ``auto``: fast on a GPU (any accelerator), exact on the CPU.  Everything the head motion depends on stays float32: keypoint detection, MappingNet
  and the keypoint transformation (outside the generator), the source encoding that gets warped,
  the sparse motions, the softmax over motions and the dense deformation, the warping, and the
  sigmoid outputs.  Keypoints are those of exact mode; frames are within 35 dB PSNR of it.

The networks themselves are not changed: the chosen stacks are cast once and wrapped at their
boundaries by forward hooks (inputs converted to the compute dtype and layout, the
precision-sensitive heads' outputs back to float32).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..networks.generator import GeneratorOutput, OcclusionAwareSPADEGenerator, SourceEncoding
from ..precision import Precision, compute_dtype, resolve


@dataclass(frozen=True)
class GeneratorSettings:
    """How the generator computes, set once when it is loaded.

    ``precision``: exact or fast (see the module docstring).  ``channels_last``: NHWC / NDHWC
    activations (oneDNN's direct kernels on CPU, no layout reorders; tensor cores on GPU).
    ``frames_per_call``: at most this many frames per generator call, whatever the render batch
    (``RenderOptions.batch_size``) (None: 1 on CPU, where batching gains no speed and each extra
    frame costs ~300 MB at the 256x256 decoder stage; the whole batch on GPU).  ``compile``: ``torch.compile`` the per-frame
    path with frozen weights (minutes of compilation per process; it did not pay off on the
    2-core CPU measured in benchmarks/RESULTS.md, so it is off by default).
    """

    precision: Precision = Precision.EXACT
    channels_last: bool = True
    frames_per_call: int | None = None
    compile: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision(self.precision))
        if self.frames_per_call is not None and self.frames_per_call < 1:
            raise ValueError(f"frames_per_call must be >= 1 or None, got {self.frames_per_call}")

    def on(self, device: torch.device | str) -> GeneratorSettings:
        """This setting with its precision made concrete for ``device`` (``auto`` -> exact or
        fast; ``fast`` where the device has no reduced precision is a ``SettingError``)."""
        return dataclasses.replace(self, precision=resolve(self.precision, device))


EXACT = GeneratorSettings()
FAST = GeneratorSettings(Precision.FAST)


def apply_generator_settings(generator: OcclusionAwareSPADEGenerator, settings: GeneratorSettings = EXACT) -> OcclusionAwareSPADEGenerator:
    """Set ``generator`` (loaded, on its device) up for ``settings``, in place; returns it.  Call once,
    right after loading: the chosen convolution stacks are cast to the compute dtype and get
    hooks converting their inputs (dtype, layout) and the precision-sensitive heads' outputs
    back to float32; ``animate`` splits batches into ``frames_per_call`` and may be compiled."""
    device = next(generator.parameters()).device
    dtype = compute_dtype(settings.precision, device)
    layout_2d = torch.channels_last if settings.channels_last else torch.contiguous_format
    layout_3d = torch.channels_last_3d if settings.channels_last else torch.contiguous_format
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
    animate = generator.animate
    if settings.compile:
        # weights frozen into the graph (prepacked once); shapes are fixed for a clip
        animate = torch.compile(animate, dynamic=False, options={"freezing": True})
    frames = settings.frames_per_call or (1 if device.type == "cpu" else None)
    if frames is not None:
        animate = _in_chunks(animate, frames)
    generator.animate = animate
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


Animate = Callable[[SourceEncoding, torch.Tensor, torch.Tensor], GeneratorOutput]


def _in_chunks(animate: Animate, frames: int) -> Animate:
    """``animate`` called on at most ``frames`` driving frames at a time, outputs concatenated."""

    def part(tensor: torch.Tensor, start: int) -> torch.Tensor:
        """Frames start.. of a per-frame tensor; a batch-1 tensor is shared by every frame."""
        return tensor if tensor.shape[0] == 1 else tensor[start:start + frames]

    def chunked(source: SourceEncoding, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> GeneratorOutput:
        if kp_driving.shape[0] <= frames:
            return animate(source, kp_driving, kp_source)
        parts = [animate(SourceEncoding(part(source.feature_3d, i), part(source.motion_feature, i)),
                         kp_driving[i:i + frames], part(kp_source, i))
                 for i in range(0, kp_driving.shape[0], frames)]
        occlusion = None if parts[0].occlusion_map is None else torch.cat([p.occlusion_map for p in parts])
        return GeneratorOutput(prediction=torch.cat([p.prediction for p in parts]),
                               mask=torch.cat([p.mask for p in parts]), occlusion_map=occlusion)

    return chunked
