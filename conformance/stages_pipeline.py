"""Conformance handler for the end-to-end golden (``inference.py`` main on a picture + a wav).

Detection is replaced by the golden's landmarks (as the reference harness did), the PoseVAE
draws by the golden's ``z``; everything else runs through the public pipeline API.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from sadtalker_core.models import load_models
from sadtalker_core.motion.audio import load_audio_features
from sadtalker_core.pipeline import MotionOptions, RenderOptions, make_motion, render_face_frames
from sadtalker_core.source.face import extract_source

from .golden import Golden
from .registry import StageContext, Tolerance, stage


@stage("inference_e2e", {
    "crop_pic_uint8": Tolerance(abs=0),
    "landmarks68_crop256": Tolerance(abs=1e-3),
    "first_coeff_3dmm": Tolerance(rel=1e-5),
    "indiv_mels": Tolerance(abs=1e-4),
    "ratio_gt": Tolerance(abs=0),
    "coeff_3dmm": Tolerance(abs=1e-3),
    "frames_uint8": Tolerance(abs=2),
})
def inference_e2e(golden: Golden, ctx: StageContext) -> dict[str, object]:
    meta = golden.meta
    preprocess = meta["stage"].split("(")[1].split(",")[0].strip()  # "inference.py main (crop, 256, ...)"
    batch_size = int(meta["stage"].split("batch")[1].split(",")[0])
    pose_style = int(meta["stage"].split("pose_style")[1].split(")")[0])
    size = int(meta["stage"].split(",")[1])
    models = load_models(ctx.weights_dir, size, ctx.device)
    image = cv2.cvtColor(cv2.imread(str(ctx.media(meta["source_pic"]))), cv2.COLOR_BGR2RGB)
    source = extract_source(image, models.recon, preprocess, size,
                            landmarks=golden["landmarks68_orig"].numpy(), crop_landmarks="mapped")
    audio = load_audio_features(ctx.media(meta["audio"]))
    motion = make_motion(models, source, audio, MotionOptions(pose_style=pose_style, seed=0), z=golden["z"])
    frames = np.concatenate(list(render_face_frames(models, source, motion, RenderOptions(batch_size=batch_size))))
    blink = motion.blink if motion.blink is not None else torch.zeros(motion.num_frames)
    return {
        "crop_pic_uint8": source.crop.image,
        "landmarks68_crop256": source.landmarks[None],
        "first_coeff_3dmm": source.source_coeff,
        "indiv_mels": audio.mel_batch(),
        "ratio_gt": blink.reshape(1, -1, 1),
        "coeff_3dmm": motion.coeff_70(),
        "frames_uint8": frames,
    }
