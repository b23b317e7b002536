"""Random eye-blink schedule: the blink-ratio condition of ExpNet (official ``generate_blink_seq_randomly``).

Each blink is 5 frames of eye-closing ratio ``0.5, 0.9, 1.0, 0.9, 0.5``; the gap before each blink
is drawn uniformly from ``[min(10, T), min(T // 2, 70))`` with ``random.choice``, so a
``random.Random(seed)`` reproduces the official sequence after ``random.seed(seed)``.
"""
from __future__ import annotations

import random

import numpy as np

BLINK_SHAPE = (0.5, 0.9, 1.0, 0.9, 0.5)
MIN_FRAMES = 21  # videos of 20 frames or fewer get no blink


def random_blink_ratio(num_frames: int, seed: int | random.Random | None = None) -> np.ndarray:
    """(num_frames,) float32 blink ratio; ``seed`` is an int, a ``random.Random`` (its state
    advances), or None for an unseeded generator.

    Videos of 21 frames make the official code fail (``random.choice`` of an empty range); they
    get no blink here, like shorter ones.
    """
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    ratio = np.zeros(num_frames, dtype=np.float32)
    gaps = range(min(10, num_frames), min(int(num_frames / 2), 70))
    if num_frames < MIN_FRAMES or len(gaps) == 0:
        return ratio
    frame = 0
    while frame < num_frames:
        start = frame + rng.choice(gaps)
        if start + len(BLINK_SHAPE) > num_frames - 1:
            break
        ratio[start:start + len(BLINK_SHAPE)] = BLINK_SHAPE
        frame = start + len(BLINK_SHAPE)
    return ratio
