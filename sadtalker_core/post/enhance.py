"""Face enhancement of rendered face crops with GFPGAN v1.4, RestoreFormer or CodeFormer, via spandrel.

The official SadTalker runs ``GFPGANer`` (``--enhancer gfpgan`` / ``RestoreFormer``) on every
output frame; here the restorer runs on the rendered face crop before it is pasted back, which
is where the face is and costs a fraction of a full frame.  Files are the ones official users
have (``GFPGANv1.4.pth``, ``RestoreFormer.pth``, ``codeformer.pth``); spandrel detects the
architecture from the state dict.  CodeFormer's architecture ships in the separate
``spandrel_extra_arches`` package (non-commercial S-Lab license), used when it is installed.

Each network is called the way its authors' inference code calls it: input normalised to
[-1, 1], output read back from [-1, 1] (spandrel's own ``__call__`` for GFPGAN and CodeFormer
feeds [0, 1] and clips the output to [0, 1], which is not what these networks were trained on).
GFPGAN's StyleGAN decoder injects fresh random noise on every call, as in the official code.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import spandrel
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import EnhancerError, InputError
from ..official_files import MODEL_SUFFIXES
from ..precision import Precision, compute_dtype, float32_arithmetic

_CODEFORMER_KEYS = ("position_emb", "idx_pred_layer.1.weight", "ft_layers.0.self_attn.in_proj_weight")


@dataclass(frozen=True)
class FaceArchitecture:
    """How one restoration network is run: native square input ``size`` and a ``forward`` taking
    (module, images in [-1, 1], CodeFormer fidelity) -> images in [-1, 1]."""

    name: str
    size: int
    forward: Callable[[nn.Module, torch.Tensor, float], torch.Tensor]


FACE_ARCHITECTURES: dict[str, FaceArchitecture] = {
    arch.name: arch
    for arch in (
        FaceArchitecture("GFPGAN", 512, lambda model, x, fidelity: model(x, return_rgb=False)[0]),
        FaceArchitecture("RestoreFormer", 512, lambda model, x, fidelity: model(x)[0]),
        FaceArchitecture("CodeFormer", 512, lambda model, x, fidelity: model(x, weight=fidelity)[0]),
    )
}


@dataclass(frozen=True)
class FaceEnhancer:
    """A loaded face restoration network; :meth:`enhance` runs it on batches of face crops."""

    path: Path
    architecture: FaceArchitecture
    model: nn.Module  # its dtype is fixed at load time; it follows the crops' device

    @property
    def size(self) -> int:
        """The square side the network works at; crops are resized to it and back."""
        return self.architecture.size

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @torch.inference_mode()
    @float32_arithmetic()
    def enhance(self, crops: torch.Tensor, strength: float = 1.0, fidelity: float = 0.5) -> torch.Tensor:
        """Restore RGB face crops: float (N, 3, H, W) in [0, 1] -> same shape, dtype and device.

        Each crop is resized to the network's native size, restored, resized back to H x W and
        blended with the input: ``strength`` 1 keeps only the restored face, 0 returns the input.
        ``fidelity`` is CodeFormer's weight (0: strongest restoration, 1: closest to the input);
        GFPGAN and RestoreFormer have no such knob and ignore it.  The network runs on the
        crops' device, in the dtype it was loaded with.
        """
        _check_crops(crops)
        for name, value in (("strength", strength), ("fidelity", fidelity)):
            if not 0.0 <= value <= 1.0:
                raise InputError(f"{name} must be between 0 and 1, got {value}")
        if strength == 0.0 or crops.shape[0] == 0:
            return crops.clone()
        model = self.model.to(crops.device)
        height, width = crops.shape[-2:]
        # the restoration networks reshape with .view: they need the standard (NCHW) memory layout
        native = _resize(crops, (self.size, self.size)).contiguous(memory_format=torch.contiguous_format)
        restored = self.architecture.forward(model, (native * 2 - 1).to(self.dtype), fidelity)
        restored = _resize((restored.clamp(-1, 1) + 1) / 2, (height, width))
        return torch.lerp(crops.float(), restored, strength).clamp_(0, 1).to(crops.dtype)


def _check_crops(crops: torch.Tensor) -> None:
    if isinstance(crops, torch.Tensor) and crops.is_floating_point() and crops.ndim == 4 and crops.shape[1] == 3:
        return
    if isinstance(crops, torch.Tensor):
        desc = f"{crops.dtype} tensor of shape {tuple(crops.shape)}"
    else:
        desc = type(crops).__name__
    raise ValueError(f"face crops must be a float tensor (N, 3, H, W) in [0, 1], got a {desc}")


def _resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Antialiased bilinear resize, in float32 (the antialiased kernel has no half-precision CPU version)."""
    images = images.float()
    if tuple(images.shape[-2:]) == size:
        return images
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)


@functools.cache
def _install_extra_architectures() -> bool:
    """Register ``spandrel_extra_arches`` (CodeFormer) with spandrel if it is installed."""
    try:
        import spandrel_extra_arches
    except ImportError:
        return False
    spandrel_extra_arches.install(ignore_duplicates=True)
    return True


def load_face_enhancer(
    path: str | os.PathLike, device: torch.device | str = "cpu", precision: Precision | str = Precision.EXACT
) -> FaceEnhancer:
    """Load a GFPGAN v1.4 / RestoreFormer / CodeFormer file into a :class:`FaceEnhancer` on ``device``,
    at ``precision`` (:mod:`sadtalker_core.precision`) where the network supports the reduced dtype
    (float32 otherwise: none of them runs in float16).

    Raises :class:`EnhancerError` naming the file when it is missing, unreadable (e.g. a
    truncated download) or holds some other kind of model.
    """
    path = Path(path)
    dtype = compute_dtype(precision, device)
    if not path.is_file():
        raise EnhancerError(
            f"face enhancer file {path} not found; download GFPGANv1.4.pth, RestoreFormer.pth or codeformer.pth there"
        )
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise EnhancerError(f"{path}: a face enhancer must be a {' / '.join(MODEL_SUFFIXES)} file, got '{path.suffix}'")
    has_extra = _install_extra_architectures()
    loader = spandrel.ModelLoader(device=device)
    try:
        state_dict = loader.load_state_dict_from_file(path)
    except Exception as err:
        raise EnhancerError(
            f"{path} cannot be read as a model file ({type(err).__name__}: {err}); it may be truncated by an "
            "interrupted download: download it again"
        ) from err
    if not has_extra and all(key in state_dict for key in _CODEFORMER_KEYS):
        raise EnhancerError(
            f"{path} is a CodeFormer model, whose architecture needs `pip install spandrel_extra_arches` "
            "(non-commercial S-Lab license); install it or use GFPGANv1.4.pth"
        )
    try:
        descriptor = loader.load_from_state_dict(state_dict)
    except spandrel.UnsupportedModelError as err:
        raise EnhancerError(
            f"{path} is not a model architecture spandrel knows; a face enhancer must be GFPGANv1.4.pth, "
            "RestoreFormer.pth or codeformer.pth"
        ) from err
    except Exception as err:
        raise EnhancerError(
            f"{path} matches a known architecture but its weights do not fit it ({type(err).__name__}: {err}); "
            "the file may be damaged: download it again"
        ) from err
    arch = FACE_ARCHITECTURES.get(descriptor.architecture.id)
    if arch is None or descriptor.purpose != "FaceSR":
        raise EnhancerError(
            f"{path} holds a {descriptor.architecture.name} model (purpose: {descriptor.purpose}), not a face "
            f"restoration model; use one of {', '.join(FACE_ARCHITECTURES)} "
            "(GFPGANv1.4.pth, RestoreFormer.pth, codeformer.pth)"
        )
    supported = (dtype == torch.float16 and descriptor.supports_half) or (
        dtype == torch.bfloat16 and descriptor.supports_bfloat16
    )
    model = descriptor.model.eval().requires_grad_(False).to(dtype if supported else torch.float32)
    return FaceEnhancer(path, arch, model)
