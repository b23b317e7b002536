"""Handlers for the 3DMM-extraction goldens: ``align_img`` and ``face_3drecon``.

``align_img`` starts from the golden's 256x256 frame, its 5 landmarks in image coordinates and its
standard 3D landmarks (the y flip is ours and is checked too; our own copy of the standard
landmarks is checked against the official ``.mat`` by the alignment tests).  ``face_3drecon``
starts from the regressor's input image the golden stores.
"""
from __future__ import annotations

import numpy as np

from sadtalker_core.networks.recon_net import load_recon_net
from sadtalker_core.source.align import align_img, flip_y
from sadtalker_core.source.coeffs import Coeffs3DMM, source_coeffs

from .golden import Golden
from .registry import StageContext, Tolerance, stage

NETWORK = Tolerance(abs=1e-4)


@stage("align_img", {
    "lm5_flipped": Tolerance(abs=1e-4),
    "trans_params": Tolerance(rel=1e-5),
    "aligned_uint8": Tolerance(abs=1),  # PIL bicubic of a least-squares fit: exact with the same Pillow and BLAS
    "lm_new": Tolerance(abs=1e-3),
}, inputs=("frame_rgb_uint8", "lm5_image_coords", "lm3d_std"))
def align_img_stage(golden: Golden, ctx: StageContext) -> dict:
    frame = golden["frame_rgb_uint8"].numpy()
    flipped = flip_y(golden["lm5_image_coords"].numpy(), frame.shape[0])
    face = align_img(frame, flipped, lm3d=golden["lm3d_std"].numpy())
    return {
        "lm5_flipped": flipped,
        "trans_params": face.trans_params.as_array(),
        "aligned_uint8": face.image,
        "lm_new": face.landmarks,
    }


@stage("face_3drecon", {
    "full_coeff": NETWORK,
    "coeff_3dmm": NETWORK,
}, inputs=("image", "coeff_3dmm"))  # coeff_3dmm: its last three values, see below
def face_3drecon_stage(golden: Golden, ctx: StageContext) -> dict:
    """The regressor on the golden's image, and the 73-d vector CropAndExtract builds from its output.

    The vector's last three values are the alignment's ``trans_params[2:]``, an input of this step
    that the golden stores only there: they are taken from it, so ``coeff_3dmm`` checks the choice
    and order of the first 70 (exp, angle, trans).
    """
    net = load_recon_net(ctx.checkpoint(golden, "face_3drecon", default="SadTalker_V0.0.2_256.safetensors"), ctx.device)
    full = net(golden["image"].to(ctx.device)).float().cpu()
    trans_params = np.concatenate([np.zeros(2, np.float32), golden["coeff_3dmm"].numpy()[0, -3:]])
    return {"full_coeff": full, "coeff_3dmm": source_coeffs(Coeffs3DMM.split(full, net.config), trans_params)}
