"""Audio -> expressions: ExpNet over 10-frame chunks, conditioned on the reference expression β0
of every frame and the blink ratio (the official ``Audio2Exp.test``); a reference video's
expressions can stand in for β0 (official ``--ref_eyeblink``).
"""
from __future__ import annotations

import torch

from ..networks.expnet import ExpNet
from ..networks.posevae import POSE_DIM
from ..precision import float32_arithmetic
from .audio import driving_reference
from .sequences import COEFF_DIM, EXP_DIM, check_sequence, resample_sequence, source_motion_coeff


@float32_arithmetic()
def predict_expression(expnet: ExpNet, mels: torch.Tensor, ref_exp: torch.Tensor, blink: torch.Tensor) -> torch.Tensor:
    """``mels`` (B, T, 1, 80, 16), ``ref_exp`` (B, T, 64), ``blink`` (B, T, 1) -> (B, T, 64),
    ExpNet run on chunks of ``cfg.chunk_frames`` frames (the last one may be shorter)."""
    step = expnet.cfg.chunk_frames
    chunks = [
        expnet(mels[:, i:i + step], ref_exp[:, i:i + step], blink[:, i:i + step])
        for i in range(0, mels.shape[1], step)
    ]
    return torch.cat(chunks, dim=1)


def audio_to_expression(expnet: ExpNet, mels: torch.Tensor, ref_coeff: torch.Tensor,
                        blink: torch.Tensor | None = None) -> torch.Tensor:
    """(T, 64) expressions from ExpNet (no noise) for ``mels`` (1, T, 1, 80, 16).

    ``ref_coeff``: (70,) or per frame (T, 70), the per-frame expressions replacing β0;
    ``blink``: (T,) ratio, zeros when None.
    """
    ref = driving_reference(mels, ref_coeff)
    frames = mels.shape[1]
    ratio = torch.zeros(frames) if blink is None else blink
    ratio = ratio.to(device=mels.device, dtype=mels.dtype)
    if ratio.shape != (frames,):
        raise ValueError(f"blink must be ({frames},), got {tuple(ratio.shape)}")
    return predict_expression(expnet, mels, ref[..., :EXP_DIM], ratio[None, :, None])[0]


def reference_expression(ref_expression: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(N, 64) expressions of a reference video -> (num_frames, 64) per-frame β0 (official
    ``ref_eyeblink``): the video's expressions, blinks included, repeated / trimmed."""
    return resample_sequence(check_sequence(ref_expression, EXP_DIM, "ref_expression"), num_frames)


def reference_coeff(source_coeff: torch.Tensor, ref_expression: torch.Tensor, num_frames: int) -> torch.Tensor:
    """The (num_frames, 70) ``ref_coeff`` for :func:`audio_to_expression` with a reference blink
    video: the source's pose on every frame, β0 from :func:`reference_expression`.

    ``source_coeff``: the source face's coefficients, (70,) / (73,) or (1, 70) / (1, 73).  As in
    the official code, the blink ratio is then zero: the eyes follow the reference video's
    expressions (:func:`~sadtalker_core.motion.generate.make_expression`).
    """
    flat = source_motion_coeff(source_coeff).to(source_coeff.dtype)
    expression = reference_expression(ref_expression, num_frames).to(device=flat.device, dtype=flat.dtype)
    pose = flat[EXP_DIM:COEFF_DIM].expand(num_frames, POSE_DIM)
    return torch.cat([expression, pose], dim=1)
