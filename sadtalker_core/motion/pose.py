"""Audio -> head pose: PoseVAE samples pose *motion* relative to the reference pose in 32-frame
chunks (the official ``Audio2Pose.test``), which is added to the reference pose and smoothed with
a Savitzky–Golay filter (window 13, order 2).

Noise: every 32-frame chunk (and the remainder chunk) draws one latent ``z`` of shape (B, 64).
The draws can be given (``z``: (draws, B, 64), in call order), come from a ``torch.Generator``, or,
when neither is given, from torch's global CPU generator as in the official code (so
``torch.manual_seed(s)`` before the call reproduces the official run with that seed).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.signal import savgol_filter

from ..config import PoseVAEConfig
from ..errors import SettingError
from ..networks.posevae import POSE_DIM, PoseVAE
from ..precision import float32_arithmetic
from .audio import driving_reference
from .sequences import EXP_DIM

SMOOTH_WINDOW = 13
SMOOTH_ORDER = 2


def pose_draw_count(num_frames: int, seq_len: int = PoseVAEConfig().seq_len) -> int:
    """How many latent draws pose sampling makes for ``num_frames`` frames: one per full
    ``seq_len`` chunk of the ``num_frames - 1`` generated frames, plus one for a remainder."""
    full, rest = divmod(max(num_frames - 1, 0), seq_len)
    return full + (rest > 0)


@float32_arithmetic()
def sample_pose_motion(
    posevae: PoseVAE,
    mels: torch.Tensor,
    ref_pose: torch.Tensor,
    style: torch.Tensor,
    z: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pose motion (B, T, 6) relative to ``ref_pose`` (B, 6) for ``mels`` (B, T, 1, 80, 16) and
    pose styles ``style`` (B,) of PoseVAE's style table (the official ``Audio2Pose.test``).

    Frame 0 is the reference itself (zero motion).  Frames 1..T-1 are decoded in chunks of
    ``seq_len`` (32) from the mel windows of frames 1.. : each full chunk from its own windows;
    a remainder of ``r`` frames from the LAST ``seq_len`` windows, keeping the last ``r``
    predictions; when fewer than ``seq_len`` windows exist at all, their embeddings are
    left-padded by repeating the first one.  ``z`` / ``generator``: see the module docstring.
    """
    batch, frames = mels.shape[:2]
    seq_len, latent = posevae.cfg.seq_len, posevae.cfg.latent_size
    draws = pose_draw_count(frames, seq_len)
    if z is not None and tuple(z.shape) != (draws, batch, latent):
        raise ValueError(f"z must be ({draws}, {batch}, {latent}) for {frames} frames (one draw per "
                         f"{seq_len}-frame chunk and one for a remainder), got {tuple(z.shape)}")
    drawn = iter(z) if z is not None else None

    def next_z() -> torch.Tensor:
        if drawn is not None:
            sample = next(drawn)
        else:
            where = generator.device if generator is not None else torch.device("cpu")
            sample = torch.randn(batch, latent, generator=generator, device=where)
        return sample.to(device=mels.device, dtype=mels.dtype)

    def decode(chunk_mels: torch.Tensor) -> torch.Tensor:
        sample = next_z()
        audio_emb = posevae.encode_audio(chunk_mels)
        if audio_emb.shape[1] < seq_len:
            pad = audio_emb[:, :1].expand(-1, seq_len - audio_emb.shape[1], -1)
            audio_emb = torch.cat([pad, audio_emb], dim=1)
        return posevae.decode(sample, style, ref_pose, audio_emb)

    generated = mels[:, 1:]
    full, rest = divmod(frames - 1, seq_len)
    motion = [ref_pose.new_zeros(batch, 1, POSE_DIM)]
    motion += [decode(generated[:, i * seq_len:(i + 1) * seq_len]) for i in range(full)]
    if rest:
        motion.append(decode(generated[:, -seq_len:])[:, -rest:])
    return torch.cat(motion, dim=1)


def smooth_pose(pose: torch.Tensor) -> torch.Tensor:
    """Savitzky–Golay filter (window 13, order 2) along time (dim -2) of (..., T, 6) poses.

    For T < 13 the window shrinks to the largest odd number <= T - 1 (the official rule); when
    that leaves a window too short for an order-2 fit (T <= 2, where the official code fails)
    the pose is returned unchanged, which is what a fit through every point would give.
    """
    frames = pose.shape[-2]
    window = SMOOTH_WINDOW if frames >= SMOOTH_WINDOW else int((frames - 1) / 2) * 2 + 1
    if window <= SMOOTH_ORDER:
        return pose
    smoothed = savgol_filter(pose.detach().cpu().numpy(), window, SMOOTH_ORDER, axis=-2)
    return torch.from_numpy(np.ascontiguousarray(smoothed)).to(device=pose.device, dtype=pose.dtype)


def check_pose_style(posevae: PoseVAE, pose_style: int) -> None:
    """``pose_style`` must be one of the styles the loaded PoseVAE learned (its style table: 46 in
    the official file, more in one trained with a wider table): the one check, whoever asks."""
    num_styles = posevae.cfg.num_classes
    if not 0 <= int(pose_style) < num_styles:
        raise SettingError(f"pose_style {pose_style}: the loaded PoseVAE has {num_styles} styles, 0..{num_styles - 1}; "
                           "choose one of them, or load a PoseVAE trained with more styles")


def audio_to_pose(posevae: PoseVAE, mels: torch.Tensor, ref_coeff: torch.Tensor, pose_style: int = 0,
                  z: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """(T, 6) head poses: PoseVAE's motion in style ``pose_style`` (:func:`check_pose_style`) added
    to the reference pose (frame 0's of ``ref_coeff``) and smoothed."""
    check_pose_style(posevae, pose_style)
    ref_pose = driving_reference(mels, ref_coeff)[:, 0, EXP_DIM:]
    style = torch.tensor([int(pose_style)], device=mels.device)
    motion = sample_pose_motion(posevae, mels, ref_pose, style, z=z, generator=generator)
    return smooth_pose(ref_pose[:, None] + motion)[0]
