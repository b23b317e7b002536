"""Conformance handler for the end-to-end golden (``inference.py`` main on a picture + a wav).

The run's settings come from the golden's meta (``inference.py main (crop, 256, batch 2,
pose_style 0)``, the picture, the audio and the blink seed), detection is replaced by the golden's
landmarks (as the reference harness did), the PoseVAE draws by the golden's ``z``; everything else
runs through the stages' entries and the pipeline, as users run them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from sadtalker_core.models import load_models
from sadtalker_core.motion import MotionOptions, load_audio_features, make_motion
from sadtalker_core.pipeline import RenderOptions, render_face_frames
from sadtalker_core.source import extract_source

from .golden import Golden
from .registry import StageContext, Tolerance, stage

_SETTINGS = re.compile(r"\((\w+), (\d+), batch (\d+), pose_style (\d+)\)")


@dataclass(frozen=True)
class RunSettings:
    """The official command-line settings the golden was made with."""

    preprocess: str
    size: int
    batch_size: int
    pose_style: int


def run_settings(golden: Golden) -> RunSettings:
    """Parse ``(preprocess, size, batch N, pose_style S)`` from the golden's meta stage."""
    match = _SETTINGS.search(str(golden.meta.get("stage", "")))
    if match is None:
        raise ValueError(f"{golden.path.name}: meta 'stage' lacks the run settings "
                         "'(preprocess, size, batch N, pose_style S)'")
    return RunSettings(match[1], int(match[2]), int(match[3]), int(match[4]))


@stage("inference_e2e", {
    "crop_pic_uint8": Tolerance(abs=0),  # cv2 uint8 resize of a slice: integer arithmetic
    "landmarks68_crop256": Tolerance(abs=1e-3),
    "first_coeff_3dmm": Tolerance(rel=1e-5),
    "indiv_mels": Tolerance(abs=1e-4),
    "ratio_gt": Tolerance(abs=0),  # 0 / 1 blink flags
    "coeff_3dmm": Tolerance(abs=1e-3),
    "frames_uint8": Tolerance(abs=2),
}, inputs=("landmarks68_orig", "z"))
def inference_e2e(golden: Golden, ctx: StageContext) -> dict[str, object]:
    meta = golden.meta
    settings = run_settings(golden)
    models = load_models(ctx.weights_dir, settings.size, ctx.device)
    image = cv2.imread(str(ctx.media(meta["source_pic"])))
    if image is None:
        raise FileNotFoundError(f"{meta['source_pic']}: cv2 cannot decode it")
    source = extract_source(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), models.recon, settings.preprocess,
                            settings.size, landmarks=golden["landmarks68_orig"].numpy(), crop_landmarks="mapped")
    audio = load_audio_features(ctx.media(meta["audio"]))
    options = MotionOptions(pose_style=settings.pose_style, seed=int(meta["python_random_seed_before_get_data"]))
    motion = make_motion(models.motion, audio.mel_batch(models.device), source.source_coeff, options, z=golden["z"],
                         fps=audio.fps)
    frames = render_face_frames(models, source, motion, RenderOptions(batch_size=settings.batch_size))
    blink = motion.blink if motion.blink is not None else torch.zeros(motion.num_frames)
    return {
        "crop_pic_uint8": source.crop.image,
        "landmarks68_crop256": source.landmarks[None],
        "first_coeff_3dmm": source.source_coeff,
        "indiv_mels": audio.mel_batch(),
        "ratio_gt": blink.reshape(1, -1, 1),
        "coeff_3dmm": motion.coeff_70(),
        "frames_uint8": np.concatenate(list(frames)),
    }
