"""facexlib's RetinaFace post-processing as ``detect_faces`` runs it after decoding, step for step:
the reference our selection is compared with where the goldens cannot be (tied scores).

Run as a script, it prints our selection and facexlib's of :func:`tied_scores_case` as JSON, so a
test can compare them under other numpy sort kernels (``NPY_DISABLE_CPU_FEATURES``), i.e. as on
another CPU.
"""
from __future__ import annotations

import json

import numpy as np
import torch
from torchvision.ops import nms as torchvision_nms

from sadtalker_core.networks.retinaface import DecodedDetections, select

TIE_THRESHOLD = 0.5


def facexlib_selection(boxes: np.ndarray, landmarks: np.ndarray, scores: np.ndarray, conf_threshold: float,
                       nms_threshold: float = 0.4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(candidate anchor indices in sorted order, NMS keep indices into them, (K, 15) detections)."""
    inds = np.where(scores > conf_threshold)[0]
    order = scores[inds].argsort()[::-1]  # numpy's default, unstable sort, reversed
    candidates = inds[order]
    dets = np.hstack((boxes[candidates], scores[candidates, None])).astype(np.float32, copy=False)
    keep = torchvision_nms(torch.Tensor(dets[:, :4]), torch.Tensor(dets[:, 4]), nms_threshold).numpy()
    return candidates, keep, np.concatenate((dets[keep], landmarks[candidates][keep]), axis=1)


def tied_scores_case(n: int = 6000, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` overlapping boxes (float32 x1y1x2y2 in a 480-px picture), landmarks and scores taking
    only four values, as at a low threshold where thousands of candidates saturate."""
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 420, (n, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(8, 60, (n, 2))], axis=1).astype(np.float32)
    landmarks = rng.uniform(0, 480, (n, 10)).astype(np.float32)
    scores = rng.choice(np.float32([0.25, 0.75, 0.875, 1.0]), n)
    return boxes, landmarks, scores


def ours_and_facexlib(threshold: float = TIE_THRESHOLD) -> dict[str, dict[str, list]]:
    """Both selections of :func:`tied_scores_case`, as lists."""
    boxes, landmarks, scores = tied_scores_case()
    chosen = select(DecodedDetections(*map(torch.from_numpy, (boxes, landmarks, scores))), threshold)
    candidates, keep, dets = facexlib_selection(boxes, landmarks, scores, threshold)
    return {
        "ours": {"candidates": chosen.candidates.tolist(), "keep": chosen.keep.tolist(), "dets": chosen.dets.tolist()},
        "facexlib": {"candidates": candidates.tolist(), "keep": keep.tolist(), "dets": dets.tolist()},
    }


if __name__ == "__main__":
    print(json.dumps(ours_and_facexlib()))
