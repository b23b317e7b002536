"""ExpNet's lip-only targets: per-clip expression coefficients that move the lips with the speech
and nothing else (SadTalker §3.2), precomputed once per prepared clip.

A teacher maps a clip's shard to (T, 64) expressions.  :class:`Wav2LipTeacher` is the paper's:
Wav2Lip re-animates the mouth of the clip's *first* frame with each frame's mel window, the
result is pasted back into the crop and the recon net reads its expression.  Any other teacher
(another lip-sync model, hand-made targets) only has to fill ``<data>/targets/<clip_id>.safetensors``
with an ``exp`` (T, 64) float32 tensor.

``python -m training.data.teacher DATA --wav2lip wav2lip.pth --recon SadTalker_V0.0.2_256.safetensors``
writes the targets of every clip that has none yet.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
from tqdm import tqdm

from sadtalker_core.errors import InputError
from sadtalker_core.io.atomic import write_atomically
from sadtalker_core.networks.recon_net import ReconNet, load_recon_net

from ..command import run_command
from .prepare import regress_coefficients
from .shards import TARGETS_DIR, ClipShard, PreparedData, target_path
from .wav2lip import FACE_SIZE, Wav2Lip, load_wav2lip


class LipTeacher(Protocol):
    def lip_expressions(self, shard: ClipShard) -> np.ndarray:
        """(T, 64) lip-only expression coefficients of the clip's T frames."""
        ...


def write_targets(folder: Path, clip_id: str, expressions: np.ndarray) -> Path:
    """Store one clip's (T, 64) targets (atomically)."""
    expressions = np.ascontiguousarray(expressions, dtype=np.float32)
    if expressions.ndim != 2 or expressions.shape[1] != 64:
        raise InputError(f"lip-only targets must be (T, 64), got {expressions.shape}")
    tensors = {"exp": torch.from_numpy(expressions)}
    folder.mkdir(parents=True, exist_ok=True)
    return write_atomically(target_path(folder, clip_id), lambda handle: handle.write(safetensors_bytes(tensors)))


def load_targets(folder: str | os.PathLike, data: PreparedData) -> dict[str, np.ndarray]:
    """The targets of every clip of ``data`` that has a file in ``folder``, checked for length."""
    found = {}
    for clip in data.manifest.clips:
        path = target_path(Path(folder), clip.clip_id)
        if path.is_file():
            with safe_open(str(path), framework="pt") as handle:
                expressions = handle.get_tensor("exp").numpy()
            if expressions.shape != (clip.frames, 64):
                raise InputError(f"{path}: targets are {expressions.shape}, the clip has {clip.frames} frames")
            found[clip.clip_id] = expressions
    return found


def mouth_box(landmarks: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the face Wav2Lip sees: the landmark box raised by a fifth of its height
    (a face detector's box reaches the forehead) with 10 px below the chin, inside the crop."""
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)
    top = low[1] - 0.2 * (high[1] - low[1])
    x0, y0 = max(int(low[0]), 0), max(int(top), 0)
    x1, y1 = min(int(np.ceil(high[0])), size), min(int(np.ceil(high[1])) + 10, size)
    return x0, y0, x1, y1


class Wav2LipTeacher:
    """Wav2Lip on the clip's first frame + the recon net: the paper's lip-only targets."""

    def __init__(self, wav2lip: Wav2Lip, recon: ReconNet, batch: int = 16) -> None:
        self.wav2lip, self.recon, self.batch = wav2lip, recon, batch

    @torch.inference_mode()
    def lip_expressions(self, shard: ClipShard) -> np.ndarray:
        frame = shard.frames([0])[0]
        landmarks = shard.array("landmarks")[0]
        x0, y0, x1, y1 = mouth_box(landmarks, shard.size)
        face = cv2.resize(frame[y0:y1, x0:x1, ::-1], (FACE_SIZE, FACE_SIZE)).astype(np.float32) / 255  # BGR
        masked = face.copy()
        masked[FACE_SIZE // 2:] = 0
        device = next(self.wav2lip.parameters()).device
        faces = torch.from_numpy(np.concatenate([masked, face], axis=2)).permute(2, 0, 1)[None].to(device)
        mels = torch.from_numpy(shard.array("mels"))[:, None].to(device)
        crops = []
        for start in range(0, shard.num_frames, self.batch):
            window = mels[start:start + self.batch]
            synced = self.wav2lip(window, faces.expand(len(window), -1, -1, -1))
            for image in (synced.permute(0, 2, 3, 1).cpu().numpy()[..., ::-1] * 255).round().astype(np.uint8):
                pasted = frame.copy()
                pasted[y0:y1, x0:x1] = cv2.resize(image, (x1 - x0, y1 - y0))
                crops.append(pasted)
        repeated = np.repeat(landmarks[None], len(crops), axis=0)
        coeffs, _ = regress_coefficients(self.recon, np.stack(crops), repeated, self.batch)
        return coeffs[:, :64]


def make_targets(data_folder: str | os.PathLike, teacher: LipTeacher, progress: bool = True) -> Path:
    """Targets for every clip of the prepared data that has none yet; returns the targets folder."""
    data = PreparedData(Path(data_folder))
    folder = data.folder / TARGETS_DIR
    for clip, shard in tqdm(list(zip(data.manifest.clips, data.shards)), desc="targets", unit="clip", disable=not progress):
        if not target_path(folder, clip.clip_id).is_file():
            write_targets(folder, clip.clip_id, teacher.lip_expressions(shard))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data.teacher", description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="prepared data folder (python -m training.data.prepare)")
    parser.add_argument("--wav2lip", required=True, help="wav2lip.pth or wav2lip_gan.pth")
    parser.add_argument("--recon", required=True, help="SadTalker_V0.0.2_256.safetensors or epoch_20.pth")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args(argv)

    def run() -> int:
        teacher = Wav2LipTeacher(load_wav2lip(args.wav2lip, args.device), load_recon_net(args.recon, args.device),
                                 args.batch)
        print(make_targets(args.data, teacher))
        return 0

    return run_command(run)


if __name__ == "__main__":
    sys.exit(main())
