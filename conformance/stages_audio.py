"""Handlers for the audio -> motion goldens: ``audio``, ``audio2exp``, ``audio2pose``, ``audio2coeff``."""
from __future__ import annotations

import torch

from sadtalker_core.motion import MotionOptions, audio_features, load_motion_nets, make_motion
from sadtalker_core.motion.audio import DEFAULT_AUDIO, load_wav
from sadtalker_core.motion.expression import predict_expression
from sadtalker_core.motion.pose import sample_pose_motion
from sadtalker_core.networks.expnet import load_expnet
from sadtalker_core.networks.posevae import load_posevae

from .golden import Golden
from .registry import StageContext, Tolerance, stage

BUNDLE = "SadTalker_V0.0.2_256.safetensors"
NETWORK = Tolerance(abs=1e-4)


@stage("audio", {"wav_loaded_first_1s": Tolerance(abs=1e-5), "mel": NETWORK, "indiv_mels": NETWORK},
       inputs=("wav",))
def audio_stage(golden: Golden, ctx: StageContext) -> dict[str, torch.Tensor]:
    """Loading + resampling of the media file its meta names (first second kept); mel and frame
    windows of the golden's ``wav``."""
    loaded = load_wav(ctx.media(golden.meta["file"]))
    features = audio_features(golden["wav"].numpy(), source=golden.path.name)
    return {
        "wav_loaded_first_1s": torch.from_numpy(loaded[:DEFAULT_AUDIO.sample_rate]),
        "mel": torch.from_numpy(features.mel),
        "indiv_mels": torch.from_numpy(features.frame_mels),
    }


def _inputs(golden: Golden, ctx: StageContext, *names: str) -> list[torch.Tensor]:
    return [golden[name].to(ctx.device) for name in names]


@stage("audio2exp", {"chunk0_out": NETWORK, "exp_coeff_pred": NETWORK}, inputs=("indiv_mels", "ref", "ratio_gt"))
def audio2exp_stage(golden: Golden, ctx: StageContext) -> dict[str, torch.Tensor]:
    """One 10-frame ExpNet chunk and the chunked whole-sequence prediction."""
    expnet = load_expnet(ctx.checkpoint(golden, "audio2exp", default=BUNDLE), ctx.device)
    mels, ref, ratio = _inputs(golden, ctx, "indiv_mels", "ref", "ratio_gt")
    ref_exp = ref[..., :64]
    return {
        "chunk0_out": expnet(mels[:, :10], ref_exp[:, :10], ratio[:, :10]),
        "exp_coeff_pred": predict_expression(expnet, mels, ref_exp, ratio),
    }


@stage("audio2pose", {"pose_motion_pred": NETWORK, "pose_pred": NETWORK}, inputs=("indiv_mels", "ref", "class", "z"))
def audio2pose_stage(golden: Golden, ctx: StageContext) -> dict[str, torch.Tensor]:
    """PoseVAE sampling with the golden's recorded latent draws."""
    posevae = load_posevae(ctx.checkpoint(golden, "audio2pose", default=BUNDLE), ctx.device)
    mels, ref, style, z = _inputs(golden, ctx, "indiv_mels", "ref", "class", "z")
    ref_pose = ref[:, 0, -6:]
    motion = sample_pose_motion(posevae, mels, ref_pose, style, z=z)
    return {"pose_motion_pred": motion, "pose_pred": ref_pose[:, None] + motion}


@stage("audio2coeff", {"coeff_3dmm": NETWORK}, inputs=("indiv_mels", "ref", "ratio_gt", "class", "z"))
def audio2coeff_stage(golden: Golden, ctx: StageContext) -> dict[str, torch.Tensor]:
    """Expression + sampled, smoothed pose -> the (T, 70) coefficients the official code saves, by
    the motion stage's entry users run (``make_motion``), its two draws (the blink schedule,
    PoseVAE's latents) the golden's."""
    nets = load_motion_nets(
        ctx.checkpoint(golden, "audio2exp", default=BUNDLE),
        ctx.checkpoint(golden, "audio2pose", default=BUNDLE),
        ctx.device,
    )
    mels, ref, ratio, style, z = _inputs(golden, ctx, "indiv_mels", "ref", "ratio_gt", "class", "z")
    # ref holds the source's coefficients on every frame (no reference video)
    motion = make_motion(nets, mels, ref[0, 0], MotionOptions(pose_style=int(style[0])), z=z, blink_ratio=ratio[0, :, 0])
    return {"coeff_3dmm": motion.coeff_70()}
