"""Audio -> 3DMM motion coefficients (the official ``Audio2Coeff.generate``).

* expression: ExpNet over 10-frame chunks, conditioned on the reference expression β0 of every
  frame and the blink ratio (``Audio2Exp.test``);
* head pose: PoseVAE samples pose *motion* relative to the reference pose in 32-frame chunks
  (``Audio2Pose.test``, below), which is added to the reference pose and smoothed with a
  Savitzky–Golay filter (window 13, order 2);
* both are returned as a :class:`Motion`.

Noise: every 32-frame chunk (and the remainder chunk) draws one latent ``z`` of shape (B, 64).
The draws can be given (``z``: (draws, B, 64), in call order), come from a ``torch.Generator``, or,
when neither is given, from torch's global CPU generator as in the official code (so
``torch.manual_seed(s)`` before the call reproduces the official run with that seed).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.signal import savgol_filter

from .checkpoints import load_into, load_section_into, read_section
from .config import AudioConfig, ExpNetConfig, PoseVAEConfig
from .networks.expnet import ExpNet
from .networks.posevae import POSE_DIM, PoseVAE, config_for_state

EXP_DIM = ExpNetConfig().exp_dim
COEFF_DIM = EXP_DIM + POSE_DIM  # 70: [expression 64, angles 3, translation 3]
SMOOTH_WINDOW = 13
SMOOTH_ORDER = 2


@dataclass(frozen=True)
class Motion:
    """Per-frame motion of one video: ``expression`` (T, 64) and ``pose`` (T, 6) = angles (3, radians)
    + translation (3), at ``fps``; ``blink`` (T,) is the blink ratio ExpNet was conditioned on."""

    expression: torch.Tensor
    pose: torch.Tensor
    fps: int = AudioConfig().fps
    blink: torch.Tensor | None = None

    def __post_init__(self) -> None:
        frames = self.expression.shape[0]
        if self.expression.shape != (frames, EXP_DIM) or self.pose.shape != (frames, POSE_DIM):
            raise ValueError(
                f"Motion needs expression (T, {EXP_DIM}) and pose (T, {POSE_DIM}) of the same T; "
                f"got {tuple(self.expression.shape)} and {tuple(self.pose.shape)}"
            )
        if self.blink is not None and self.blink.shape != (frames,):
            raise ValueError(f"Motion blink must be ({frames},), got {tuple(self.blink.shape)}")

    @property
    def num_frames(self) -> int:
        return int(self.expression.shape[0])

    def coeff_70(self) -> torch.Tensor:
        """(T, 70) in the official layout [expression 64, angles 3, translation 3] (the saved .mat)."""
        return torch.cat([self.expression, self.pose], dim=-1)


@dataclass(frozen=True)
class MotionNets:
    """The two audio networks, in eval mode, on one device."""

    expnet: ExpNet
    posevae: PoseVAE


def _frozen(net: torch.nn.Module, device: torch.device | str) -> torch.nn.Module:
    return net.to(device).eval().requires_grad_(False)


def load_expnet(checkpoint: str | os.PathLike, device: torch.device | str = "cpu") -> ExpNet:
    """ExpNet from an official file holding section ``audio2exp`` (the SadTalker safetensors
    bundle or ``auido2exp_00300-model.pth``), in eval mode."""
    return _frozen(load_section_into(ExpNet(), Path(checkpoint), "audio2exp"), device)


def load_posevae(checkpoint: str | os.PathLike, device: torch.device | str = "cpu") -> PoseVAE:
    """PoseVAE from an official file holding section ``audio2pose`` (the SadTalker safetensors
    bundle or ``auido2pose_00140-model.pth``), in eval mode, with as many pose styles as the file has
    (46 in official files; more where ``training`` trained a wider table)."""
    state = read_section(checkpoint, "audio2pose")
    return _frozen(load_into(PoseVAE(config_for_state(state)), state, f"{checkpoint} [audio2pose]"), device)


def load_motion_nets(
    exp_checkpoint: str | os.PathLike,
    pose_checkpoint: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
) -> MotionNets:
    """Both networks; ``pose_checkpoint`` defaults to ``exp_checkpoint`` (the bundle holds both)."""
    return MotionNets(load_expnet(exp_checkpoint, device), load_posevae(pose_checkpoint or exp_checkpoint, device))


def predict_expression(expnet: ExpNet, mels: torch.Tensor, ref_exp: torch.Tensor, blink: torch.Tensor) -> torch.Tensor:
    """``mels`` (B, T, 1, 80, 16), ``ref_exp`` (B, T, 64), ``blink`` (B, T, 1) -> (B, T, 64),
    ExpNet run on chunks of ``cfg.chunk_frames`` frames (the last one may be shorter)."""
    step = expnet.cfg.chunk_frames
    chunks = [
        expnet(mels[:, i:i + step], ref_exp[:, i:i + step], blink[:, i:i + step])
        for i in range(0, mels.shape[1], step)
    ]
    return torch.cat(chunks, dim=1)


def pose_draw_count(num_frames: int, seq_len: int = PoseVAEConfig().seq_len) -> int:
    """How many latent draws pose sampling makes for ``num_frames`` frames: one per full
    ``seq_len`` chunk of the ``num_frames - 1`` generated frames, plus one for a remainder."""
    full, rest = divmod(max(num_frames - 1, 0), seq_len)
    return full + (rest > 0)


def sample_pose_motion(
    posevae: PoseVAE,
    mels: torch.Tensor,
    ref_pose: torch.Tensor,
    style: torch.Tensor,
    z: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pose motion (B, T, 6) relative to ``ref_pose`` (B, 6) for ``mels`` (B, T, 1, 80, 16) and
    pose styles ``style`` (B,) in [0, 46) (the official ``Audio2Pose.test``).

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


def _driving_inputs(mels: torch.Tensor, ref_coeff: torch.Tensor) -> torch.Tensor:
    """Check ``mels`` (1, T, 1, 80, 16) and ``ref_coeff`` ((70,) or (T, 70)); the reference as (1, T, 70)."""
    if mels.ndim != 5 or mels.shape[0] != 1:
        raise ValueError(f"mels must be (1, T, 1, 80, 16) windows of one video, got {tuple(mels.shape)}")
    frames = mels.shape[1]
    ref = ref_coeff.to(device=mels.device, dtype=mels.dtype).reshape(-1, ref_coeff.shape[-1])
    if ref.shape[-1] < COEFF_DIM or ref.shape[0] not in (1, frames):
        raise ValueError(f"ref_coeff must be (70,) or ({frames}, 70), got {tuple(ref_coeff.shape)}")
    return ref[:, :COEFF_DIM].expand(frames, -1)[None]


def audio_to_expression(expnet: ExpNet, mels: torch.Tensor, ref_coeff: torch.Tensor,
                        blink: torch.Tensor | None = None) -> torch.Tensor:
    """The expression half of :func:`audio_to_motion`: (T, 64) expressions from ExpNet (no noise).

    ``ref_coeff``: (70,) or per frame (T, 70), the per-frame expressions replacing β0;
    ``blink``: (T,) ratio, zeros when None.
    """
    ref = _driving_inputs(mels, ref_coeff)
    frames = mels.shape[1]
    ratio = torch.zeros(frames) if blink is None else blink
    ratio = ratio.to(device=mels.device, dtype=mels.dtype)
    if ratio.shape != (frames,):
        raise ValueError(f"blink must be ({frames},), got {tuple(ratio.shape)}")
    return predict_expression(expnet, mels, ref[..., :EXP_DIM], ratio[None, :, None])[0]


def audio_to_pose(posevae: PoseVAE, mels: torch.Tensor, ref_coeff: torch.Tensor, pose_style: int = 0,
                  z: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """The head-pose half of :func:`audio_to_motion`: (T, 6) poses, PoseVAE's motion added to
    the reference pose (frame 0's of ``ref_coeff``) and smoothed."""
    num_styles = posevae.cfg.num_classes
    if not 0 <= int(pose_style) < num_styles:
        raise ValueError(f"pose_style must be in 0..{num_styles - 1}, got {pose_style}")
    ref_pose = _driving_inputs(mels, ref_coeff)[:, 0, EXP_DIM:]
    style = torch.tensor([int(pose_style)], device=mels.device)
    motion = sample_pose_motion(posevae, mels, ref_pose, style, z=z, generator=generator)
    return smooth_pose(ref_pose[:, None] + motion)[0]


def audio_to_motion(
    nets: MotionNets,
    mels: torch.Tensor,
    ref_coeff: torch.Tensor,
    blink: torch.Tensor | None = None,
    pose_style: int = 0,
    z: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Motion:
    """One video's motion (the official ``Audio2Coeff.generate`` without the optional reference
    pose video): :func:`audio_to_expression` + :func:`audio_to_pose`.

    ``mels``: (1, T, 1, 80, 16) windows (:meth:`AudioFeatures.mel_batch`); ``ref_coeff``: the
    source face's 70 coefficients, (70,) or per frame (T, 70) (per-frame expressions replace β0,
    e.g. from a reference blink video; the pose reference is frame 0's); ``blink``: (T,) ratio,
    zeros when None; ``pose_style``: 0..45; ``z`` / ``generator``: see :func:`sample_pose_motion`.
    """
    pose = audio_to_pose(nets.posevae, mels, ref_coeff, pose_style, z, generator)
    expression = audio_to_expression(nets.expnet, mels, ref_coeff, blink)
    ratio = None if blink is None else blink.to(device=mels.device, dtype=mels.dtype)
    return Motion(expression=expression, pose=pose, blink=ratio)
