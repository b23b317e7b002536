"""What each trainer samples from the prepared shards, reproducibly on any number of processes.

Every sample is addressed by its global *position* in the run's sample stream: step ``s`` of a
run with global batch ``B`` uses positions ``s*B .. s*B + B - 1``, and process ``r`` of ``N``
takes the ``r``-th contiguous ``B/N`` of them (:class:`StepBatchSampler`).  Everything random
about a sample (its clip, via a per-epoch permutation, its window, frames and noise) is drawn
from a generator seeded by (run seed, position).  So the samples of a step, and therefore the
updates, do not depend on the number of processes, on data-loader workers, or on whether the
run was resumed from a checkpoint.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Sampler

from sadtalker_core.errors import InputError, SettingError
from sadtalker_core.render.inputs import coefficient_windows

from .shards import TARGETS_DIR, PreparedData

EXP, POSE = slice(0, 64), slice(64, 70)  # in the 73-d SadTalker vector
ID_FULL, EXP_FULL, ANGLE_FULL, TRANS_FULL = slice(0, 80), slice(80, 144), slice(224, 227), slice(254, 257)


class StepBatchSampler(Sampler[list[int]]):
    """This process's positions for steps ``start_step .. steps - 1`` (one list per step)."""

    def __init__(self, batch_size: int, rank: int, world_size: int, start_step: int, steps: int) -> None:
        if batch_size % world_size:
            raise SettingError(f"the global batch size {batch_size} must be divisible by the {world_size} processes")
        self.per_process = batch_size // world_size
        self.batch_size, self.rank = batch_size, rank
        self.start_step, self.steps = start_step, steps

    def __iter__(self):
        for step in range(self.start_step, self.steps):
            first = step * self.batch_size + self.rank * self.per_process
            yield list(range(first, first + self.per_process))

    def __len__(self) -> int:
        return max(self.steps - self.start_step, 0)


class ClipSampleDataset(Dataset, ABC):
    """Position -> sample.  Each epoch visits every clip once, in a seeded random order; the
    sample itself is drawn from that clip with a generator seeded by the position."""

    def __init__(self, data: PreparedData, seed: int, min_frames: int) -> None:
        self.data, self.seed = data, seed
        self.clips = [i for i, shard in enumerate(data.shards) if shard.num_frames >= min_frames]
        if not self.clips:
            raise InputError(f"{data.folder}: no clip has the {min_frames} frames this trainer needs")

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, position: int) -> dict[str, torch.Tensor]:
        epoch, offset = divmod(int(position), len(self.clips))
        clip = self.clips[np.random.default_rng([self.seed, epoch]).permutation(len(self.clips))[offset]]
        sample = self.sample(clip, np.random.default_rng([self.seed, int(position), 1]))
        sample["position"] = torch.tensor(int(position))
        return sample

    @abstractmethod
    def sample(self, clip: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """One sample of clip ``clip`` (index into ``data.shards``) using only ``rng``'s draws."""


def _f32(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(array)).to(torch.float32)


class PoseWindows(ClipSampleDataset):
    """PoseVAE samples: ``seq_len + 1`` consecutive frames, the first being the reference.

    ``pose`` (seq_len + 1, 6): angles + translation; ``mels`` (seq_len, 1, 80, 16): the windows of
    the generated frames; ``style`` (): the slot of the clip's speaker in ``styles`` (speaker ->
    slot, ``styles``); ``eps`` (latent,): the CVAE's reparameterisation noise.
    """

    def __init__(self, data: PreparedData, seed: int, seq_len: int, latent_size: int, styles: Mapping[str, int]) -> None:
        super().__init__(data, seed, seq_len + 1)
        self.seq_len, self.latent_size = seq_len, latent_size
        self.styles = [styles[clip.speaker] for clip in data.manifest.clips]

    def sample(self, clip: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        shard = self.data.shards[clip]
        start = int(rng.integers(0, shard.num_frames - self.seq_len))
        window = slice(start, start + self.seq_len + 1)
        return {
            "pose": _f32(shard.array("coeffs")[window, POSE]),
            "mels": _f32(shard.array("mels")[start + 1:start + self.seq_len + 1, None]),
            "style": torch.tensor(self.styles[clip]),
            "eps": _f32(rng.standard_normal(self.latent_size)),
        }


def eye_closure(landmarks: np.ndarray) -> np.ndarray:
    """Per-frame eye-closing ratio in [0, 1] of a clip's (T, 68, 2) landmarks: 1 - EAR / open EAR,
    where EAR is the eye aspect ratio (mean of both eyes) and the open EAR the clip's 90th
    percentile.  0 = eyes open, 1 = closed: ExpNet's blink condition."""
    def aspect(eye: np.ndarray) -> np.ndarray:
        vertical = np.linalg.norm(eye[:, 1] - eye[:, 5], axis=1) + np.linalg.norm(eye[:, 2] - eye[:, 4], axis=1)
        return vertical / (2 * np.linalg.norm(eye[:, 0] - eye[:, 3], axis=1) + 1e-6)

    ratio = (aspect(landmarks[:, 36:42]) + aspect(landmarks[:, 42:48])) / 2
    opened = max(float(np.percentile(ratio, 90)), 1e-6)
    return np.clip(1 - ratio / opened, 0, 1).astype(np.float32)


class ExpressionWindows(ClipSampleDataset):
    """ExpNet samples: ``frames`` consecutive frames of a clip that has lip-only targets.

    ``mels`` (frames, 1, 80, 16); ``ref_exp`` (64,): β0, the expression of the clip's first frame
    (the frame the teacher animated); ``blink`` (frames,): eye-closing ratio; ``target`` (frames,
    64): lip-only expression targets; ``coeffs_full`` (frames, 257): the frames' own 3DMM
    coefficients (identity, pose and true expression for the landmark losses).
    """

    def __init__(self, data: PreparedData, seed: int, frames: int, targets: dict[str, np.ndarray]) -> None:
        super().__init__(data, seed, frames)
        missing = [c.clip_id for c in data.manifest.clips if c.clip_id not in targets]
        if missing:
            raise InputError(f"no lip-only targets for {len(missing)} clips (e.g. {missing[:3]}); make them with "
                             f"python -m training.data.teacher or put them in {data.folder / TARGETS_DIR}")
        self.frames = frames
        self.targets = [targets[c.clip_id] for c in data.manifest.clips]
        self._blinks: dict[int, np.ndarray] = {}

    def blink(self, clip: int) -> np.ndarray:
        if clip not in self._blinks:
            self._blinks[clip] = eye_closure(self.data.shards[clip].array("landmarks"))
        return self._blinks[clip]

    def sample(self, clip: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        shard = self.data.shards[clip]
        start = int(rng.integers(0, shard.num_frames - self.frames + 1))
        window = slice(start, start + self.frames)
        return {
            "mels": _f32(shard.array("mels")[window, None]),
            "ref_exp": _f32(shard.array("coeffs")[0, EXP]),
            "blink": _f32(self.blink(clip)[window]),
            "target": _f32(self.targets[clip][window]),
            "coeffs_full": _f32(shard.array("coeffs_full")[window]),
        }


@dataclass(frozen=True)
class TPSNoise:
    """Spread of the random warps of face-vid2vid's equivariance loss (its ``transform_params``)."""

    sigma_affine: float = 0.05
    sigma_tps: float = 0.005
    points_tps: int = 5


def to_image(frames: np.ndarray, size: int) -> torch.Tensor:
    """(n, S, S, 3) uint8 -> (n, 3, size, size) float in [0, 1] (antialiased resize when S != size)."""
    images = _f32(frames).permute(0, 3, 1, 2) / 255
    if images.shape[-1] != size:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True,
                               align_corners=False).clamp(0, 1)
    return images


class FramePairs(ClipSampleDataset):
    """Renderer samples: a source and a driving frame of the same clip.

    ``source``, ``driving`` (3, size, size) in [0, 1]; ``driving_angles`` (3,): the driving
    frame's 3DMM angles (radians; head-pose supervision).  With ``coeff_nc`` (MappingNet's 70 or
    73) also ``source_window`` / ``driving_window`` (coeff_nc, 27): the coefficient windows
    MappingNet reads at inference.  With ``tps`` also ``tps_affine`` (2, 3) and ``tps_control``
    (points², 2): the equivariance warp's noise.
    """

    def __init__(self, data: PreparedData, seed: int, size: int, coeff_nc: int | None = None,
                 tps: TPSNoise | None = None) -> None:
        super().__init__(data, seed, 2)
        self.size, self.coeff_nc, self.tps = size, coeff_nc, tps

    def sample(self, clip: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        shard = self.data.shards[clip]
        source, driving = (int(i) for i in rng.choice(shard.num_frames, 2, replace=False))
        images = to_image(shard.frames([source, driving]), self.size)
        sample = {"source": images[0], "driving": images[1],
                  "driving_angles": _f32(shard.array("coeffs_full")[driving, ANGLE_FULL])}
        if self.coeff_nc is not None:
            coeffs = shard.array("coeffs")
            windows = coefficient_windows(_f32(coeffs[source]), _f32(coeffs), self.coeff_nc)
            sample["source_window"] = windows.source()[0]
            sample["driving_window"] = windows.targets(torch.tensor([driving]))[0]
        if self.tps is not None:
            sample["tps_affine"] = _f32(rng.normal(0, self.tps.sigma_affine, (2, 3)))
            sample["tps_control"] = _f32(rng.normal(0, self.tps.sigma_tps, (self.tps.points_tps ** 2, 2)))
        return sample
