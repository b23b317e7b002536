"""Handlers for the 3DMM-extraction goldens: ``align_img`` and ``face_3drecon``.

Both start from the rawest stored inputs: the 256x256 frame and the 5 landmarks in image
coordinates (the y flip and the standard 3D landmarks are ours and are checked too).
``face_3drecon`` stores only the regressor's input image, not the alignment that produced it, so
its handler re-runs the alignment from the ``align_img`` golden next to it (the golden's meta names
that golden as its input) and checks the whole extraction: alignment -> regressor -> 73-d vector.
"""
from __future__ import annotations

from sadtalker_core.networks.recon_net import load_recon_net
from sadtalker_core.source.align import LM3D_STD, AlignedFace, align_face, flip_y
from sadtalker_core.source.extract import extract_3dmm, recon_input

from .golden import Golden, load_golden
from .registry import EXACT, StageContext, Tolerance, stage

ALIGN_GOLDEN = "align_img.safetensors"


def _align(golden: Golden) -> AlignedFace:
    return align_face(golden["frame_rgb_uint8"].numpy(), golden["lm5_image_coords"].numpy())


@stage("align_img", {
    "lm3d_std": EXACT,
    "lm5_flipped": EXACT,
    "trans_params": Tolerance(rel=1e-5),
    "aligned_uint8": Tolerance(abs=1),  # PIL bicubic: exact with the same Pillow
    "lm_new": Tolerance(abs=1e-3),
})
def align_img_stage(golden: Golden, ctx: StageContext) -> dict:
    frame = golden["frame_rgb_uint8"].numpy()
    face = _align(golden)
    return {
        "lm3d_std": LM3D_STD.copy(),
        "lm5_flipped": flip_y(golden["lm5_image_coords"].numpy(), frame.shape[0]),
        "trans_params": face.trans_params.as_array(),
        "aligned_uint8": face.image,
        "lm_new": face.landmarks,
    }


@stage("face_3drecon", {
    "image": EXACT,
    "full_coeff": Tolerance(abs=1e-4),
    # exp/angle/trans are also in full_coeff (abs 1e-4); the last three are trans_params[2:]
    # (up to ~160 px), held to the trans_params tolerance of the align_img golden
    "coeff_3dmm": Tolerance(rel=1e-5),
})
def face_3drecon_stage(golden: Golden, ctx: StageContext) -> dict:
    align_path = golden.path.with_name(ALIGN_GOLDEN)
    if not align_path.is_file():
        raise FileNotFoundError(f"{golden.path.name} is recomputed from {ALIGN_GOLDEN}, which is not beside it")
    face = _align(load_golden(align_path))
    net = load_recon_net(ctx.checkpoint(golden, "face_3drecon", default="SadTalker_V0.0.2_256.safetensors"), ctx.device)
    result = extract_3dmm(net, face)
    return {"image": recon_input(face.image), "full_coeff": result.full, "coeff_3dmm": result.source}
