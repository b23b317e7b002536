"""Periodic sample renders: image grids for the renderer trainers, coefficient curves for the
audio trainers (both as PNG, curves also as ``.npz`` with the raw values)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

#: BGR colours of the curves of one plot
COLOURS = ((60, 60, 220), (60, 180, 60), (220, 120, 40), (40, 170, 220), (170, 60, 170), (90, 90, 90))


def save_image_grid(path: Path, rows: Sequence[torch.Tensor]) -> Path:
    """One row per (B, 3, H, W) [0, 1] tensor (source, driving, prediction ...), B columns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [torch.cat(list(row.detach().float().cpu().clamp(0, 1)), dim=2) for row in rows]
    grid = (torch.cat(lines, dim=1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    return path


def save_curves(path: Path, series: Mapping[str, np.ndarray], height: int = 120, width: int = 320) -> Path:
    """Plot (T, C) sequences (e.g. prediction vs. ground truth), one panel per channel, one colour
    per series; the values go to ``<path>.npz`` beside the PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.asarray(values, dtype=np.float32) for name, values in series.items()}
    np.savez(path.with_suffix(".npz"), **arrays)
    channels = next(iter(arrays.values())).shape[1]
    panels = []
    for channel in range(channels):
        panel = np.full((height, width, 3), 255, np.uint8)
        panel[-1] = 200  # separator between channels
        values = np.stack([a[:, channel] for a in arrays.values()])
        low, high = float(values.min()), float(values.max())
        scale = (height - 10) / (high - low) if high > low else 0.0
        for colour, curve in zip(COLOURS, values):
            xs = np.linspace(5, width - 5, len(curve))
            ys = height - 5 - (curve - low) * scale
            cv2.polylines(panel, [np.stack([xs, ys], 1).round().astype(np.int32)], False, colour, 1, cv2.LINE_AA)
        panels.append(panel)
    cv2.imwrite(str(path), np.concatenate(panels, axis=0))
    return path
