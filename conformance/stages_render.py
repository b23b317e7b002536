"""Handlers for the face-render goldens: ``mapping``, ``kp_detector``, ``he_estimator``,
``keypoint_transformation``, ``generator`` and ``make_animation``.

Where a golden stores the coefficients its windows were cut from (``coeff_seq``,
``source_coeff``), the handler cuts them itself and the windows are checked too; likewise
``make_animation`` re-reads and preprocesses the source picture its meta names.  Goldens with a
batch store ``source_image`` once; it is repeated to the batch as the reference did.  Target windows
are padded (the last frame repeated) to whole batches of the golden's meta ``batch_size``, or,
where the meta does not say, to the number of windows the golden stores.
"""
from __future__ import annotations

import torch

from sadtalker_core.config import FACERENDER, FACERENDER_STILL, FaceRenderConfig
from sadtalker_core.motion.free_view import PoseOverride
from sadtalker_core.networks.he_estimator import load_he_estimator
from sadtalker_core.networks.keypoint_detector import load_kp_detector
from sadtalker_core.networks.mapping import HeadPose, load_mapping
from sadtalker_core.render.frames import (
    frame_batches,
    frames_to_uint8,
    load_face_render_models,
    load_render_generator,
    render_frames,
)
from sadtalker_core.render.inputs import CoeffWindows, coefficient_windows, read_source_image
from sadtalker_core.render.keypoints import keypoint_transformation

from .golden import Golden
from .registry import EXACT, StageContext, Tolerance, stage

BUNDLE = "SadTalker_V0.0.2_256.safetensors"
LEGACY_FACEVID2VID = "facevid2vid_00189-model.pth.tar"
NETWORK = Tolerance(abs=1e-4)
POSE_FIELDS = ("yaw", "pitch", "roll", "t", "exp")


def _config(golden: Golden) -> FaceRenderConfig:
    return FACERENDER_STILL if "still" in str(golden.meta.get("config", "")) else FACERENDER


def _mapping_file(config: FaceRenderConfig) -> str:
    return "mapping_00109-model.pth.tar" if config.mapping.coeff_nc == 73 else "mapping_00229-model.pth.tar"


def _windows(golden: Golden, config: FaceRenderConfig) -> CoeffWindows:
    return coefficient_windows(golden["source_coeff"], golden["coeff_seq"], coeff_nc=config.mapping.coeff_nc)


def _padded_targets(windows: CoeffWindows, batch_size: int) -> torch.Tensor:
    """All target windows in frame order, padded to whole batches: (padded frames, C, 27)."""
    return torch.cat([windows.targets(batch.index) for batch in frame_batches(windows.frame_num, batch_size)])


def _pose_outputs(prefix: str, pose: HeadPose) -> dict[str, torch.Tensor]:
    return {f"{prefix}{field}": getattr(pose, field) for field in POSE_FIELDS}


def _golden_pose(golden: Golden, prefix: str) -> HeadPose:
    return HeadPose(**{field: golden[f"{prefix}{field}"] for field in POSE_FIELDS})


@stage("mapping", {
    "source_semantics": EXACT,  # windows are slices / copies of the stored coefficients
    "target_semantics": EXACT,
    **{f"{side}_{field}": NETWORK for side in ("src", "tgt") for field in POSE_FIELDS},
}, inputs=("source_coeff", "coeff_seq", "target_semantics"))  # target_semantics: its length, see below
def mapping_stage(golden: Golden, ctx: StageContext) -> dict:
    config = _config(golden)
    mapping = load_mapping(ctx.checkpoint(golden, "mapping", default=_mapping_file(config)), ctx.device, config.mapping)
    windows = _windows(golden, config)
    # the meta's batch size, else one batch as long as the golden's padded windows (a value read from an output)
    batch_size = golden.meta.get("batch_size") or len(golden["target_semantics"])
    targets = _padded_targets(windows, int(batch_size))
    return {
        "source_semantics": windows.source(),
        "target_semantics": targets,
        **_pose_outputs("src_", mapping(windows.source().to(ctx.device))),
        **_pose_outputs("tgt_", mapping(targets.to(ctx.device))),
    }


@stage("kp_detector", {"kp_value": NETWORK}, inputs=("source_image",))
def kp_detector_stage(golden: Golden, ctx: StageContext) -> dict:
    detector = load_kp_detector(ctx.checkpoint(golden, "kp_detector", default=BUNDLE), ctx.device, _config(golden).kp_detector)
    return {"kp_value": detector(golden["source_image"].to(ctx.device))}


@stage("he_estimator", {**{field: NETWORK for field in POSE_FIELDS}, "kp_value_legacy_kp_detector": NETWORK},
       inputs=("source_image",))
def he_estimator_stage(golden: Golden, ctx: StageContext) -> dict:
    config = _config(golden)
    path = ctx.checkpoint(golden, "he_estimator", default=LEGACY_FACEVID2VID)
    image = golden["source_image"].to(ctx.device)
    pose = load_he_estimator(path, ctx.device, config.he_estimator)(image)
    legacy_detector = load_kp_detector(ctx.checkpoint(golden, "kp_detector", default=LEGACY_FACEVID2VID),
                                       ctx.device, config.kp_detector)
    return {**_pose_outputs("", pose), "kp_value_legacy_kp_detector": legacy_detector(image)}


@stage("keypoint_transformation", {
    "kp_source": Tolerance(abs=1e-5),
    "kp_driving": Tolerance(abs=1e-5),
    "kp_driving_with_pose_in": Tolerance(abs=1e-5),
}, inputs=("kp_canonical", "yaw_in", "pitch_in", "roll_in", "he_source_*", "he_driving_*"))
def keypoint_transformation_stage(golden: Golden, ctx: StageContext) -> dict:
    kp_canonical = golden["kp_canonical"]
    driving = _golden_pose(golden, "he_driving_")
    free_view = PoseOverride(yaw=golden["yaw_in"], pitch=golden["pitch_in"], roll=golden["roll_in"])
    return {
        "kp_source": keypoint_transformation(kp_canonical, _golden_pose(golden, "he_source_")),
        "kp_driving": keypoint_transformation(kp_canonical, driving),
        "kp_driving_with_pose_in": keypoint_transformation(kp_canonical, driving, free_view),
    }


@stage("generator", {
    "prediction": Tolerance(abs=2e-4),
    "occlusion_map": NETWORK,
    "mask": NETWORK,
}, inputs=("source_image", "kp_source", "kp_driving"))
def generator_stage(golden: Golden, ctx: StageContext) -> dict:
    # set up as users get it (the default, exact speed settings)
    generator = load_render_generator(ctx.checkpoint(golden, "generator", default=BUNDLE), ctx.device, _config(golden).generator)
    kp_driving = golden["kp_driving"].to(ctx.device)
    source_image = golden["source_image"].to(ctx.device).expand(kp_driving.shape[0], -1, -1, -1)
    out = generator(source_image, kp_driving, golden["kp_source"].to(ctx.device))
    return {"prediction": out.prediction, "occlusion_map": out.occlusion_map, "mask": out.mask[:1]}


@stage("make_animation", {
    "source_image": Tolerance(abs=1e-6),
    "source_semantics": EXACT,
    "target_semantics_list": EXACT,
    "frames": Tolerance(abs=2e-4),
    "frames_uint8": Tolerance(abs=1),
}, inputs=("source_coeff", "coeff_seq", "target_semantics_list"))  # target_semantics_list: its batch length, when
#                                                                     the meta gives no batch size
def make_animation_stage(golden: Golden, ctx: StageContext) -> dict:
    config = _config(golden)
    # target_semantics_list is (batch, steps, C, 27)
    batch_size = int(golden.meta.get("batch_size") or golden["target_semantics_list"].shape[0])
    source_image = read_source_image(ctx.media(golden.meta["source_pic"]))
    windows = _windows(golden, config)
    models = load_face_render_models(ctx.checkpoint(golden, "generator", default=BUNDLE),
                                     ctx.checkpoint(golden, "mapping", default=_mapping_file(config)),
                                     config, ctx.device)
    frames = torch.cat(list(render_frames(models, source_image, windows, batch_size)))
    targets = _padded_targets(windows, batch_size)
    return {
        "source_image": source_image,
        "source_semantics": windows.source().expand(batch_size, -1, -1),
        # the reference's layout: [b, i] is frame b * steps + i
        "target_semantics_list": targets.view(batch_size, -1, *targets.shape[1:]),
        "frames": frames,
        "frames_uint8": frames_to_uint8(frames),
    }
