"""Conformance handlers of the face detection / landmark goldens: ``retinaface`` and ``awing_fan``."""
from __future__ import annotations

import numpy as np
import torch

from sadtalker_core.networks.awing_fan import (
    calculate_points,
    fan_image,
    fan_input,
    landmark_98_to_68,
    load_awing_fan,
    points_in_crop,
)
from sadtalker_core.networks.retinaface import (
    NMS_IOU_THRESHOLD,
    DecodedDetections,
    RawDetections,
    decode,
    detector_input,
    load_retinaface,
    prior_boxes,
    select,
)

from .golden import Golden
from .registry import EXACT, Output, StageContext, Tolerance, stage

#: golden name suffix -> score threshold (0.97: SadTalker's; 0.8: facexlib's default, an NMS stress case).
_THRESHOLDS = {"0p97": 0.97, "0p8": 0.8}


def _selection_outputs(decoded: DecodedDetections, suffix: str) -> dict[str, Output]:
    chosen = select(decoded, _THRESHOLDS[suffix], NMS_IOU_THRESHOLD)
    return {
        f"cand_idx_thr{suffix}": torch.from_numpy(chosen.candidates.astype(np.int64)),
        f"nms_keep_thr{suffix}": torch.from_numpy(chosen.keep.astype(np.int64)),
        f"dets_thr{suffix}": chosen.dets,
    }


@stage(
    "retinaface",
    {
        "loc": Tolerance(abs=1e-4),
        "conf_logits": Tolerance(abs=1e-4),
        "landms": Tolerance(abs=1e-4),
        "conf": Tolerance(abs=1e-5),
        "priors": EXACT,
        "boxes_decoded": Tolerance(abs=1e-3),
        "landms_decoded": Tolerance(abs=1e-3),
        "scores": Tolerance(abs=1e-5),
        "cand_idx_thr0p97": EXACT,
        "nms_keep_thr0p97": EXACT,
        "dets_thr0p97": Tolerance(abs=1e-3),
        "cand_idx_thr0p8": EXACT,
        "nms_keep_thr0p8": EXACT,
        "dets_thr0p8": Tolerance(abs=1e-3),
        "crop_box_int": EXACT,
    },
)
def retinaface(golden: Golden, ctx: StageContext) -> dict[str, Output]:
    """Network outputs, priors, decoding and the 0.97 selection from our own forward pass; the 0.8
    selection from the golden's raw outputs (its score / IoU margins are below float noise)."""
    net = load_retinaface(ctx.checkpoint(golden, "retinaface"), ctx.device)
    image = golden["image_rgb_uint8"].numpy()
    height, width = image.shape[:2]
    raw = net(detector_input(image).to(ctx.device))
    priors = prior_boxes(height, width, net.anchors)
    ours = decode(RawDetections(*(t.float().cpu() for t in (raw.loc, raw.conf_logits, raw.landms))), priors,
                  height, width, net.anchors.variances)
    reference_raw = RawDetections(golden["loc"], golden["conf_logits"], golden["landms"])
    from_reference = decode(reference_raw, golden["priors"], height, width, net.anchors.variances)
    outputs: dict[str, Output] = {
        "loc": raw.loc,
        "conf_logits": raw.conf_logits,
        "landms": raw.landms,
        "conf": torch.softmax(raw.conf_logits, dim=-1),
        "priors": priors,
        "boxes_decoded": ours.boxes,
        "landms_decoded": ours.landmarks,
        "scores": ours.scores,
        **_selection_outputs(ours, "0p97"),
        **_selection_outputs(from_reference, "0p8"),
    }
    top = outputs["dets_thr0p97"][0]
    outputs["crop_box_int"] = torch.tensor([int(v) for v in top[:4]], dtype=torch.int64)
    return outputs


@stage(
    "awing_fan",
    {
        "net_input_bgr_uint8": EXACT,
        "heatmaps": Tolerance(abs=5e-3),
        "boundary_heatmap": Tolerance(abs=5e-3),
        "stack_out_maxabs": Tolerance(abs=5e-3),
        "argmax_idx": EXACT,
        "points64": EXACT,
        "points64_interior": EXACT,
        "pred98": Tolerance(abs=1e-4),
        "lm68_crop": Tolerance(abs=1e-4),
        "lm68_orig": Tolerance(abs=1e-4),
    },
)
def awing_fan(golden: Golden, ctx: StageContext) -> dict[str, Output]:
    """FAN on the golden's crop, the point decoding (also on the golden's edge-free heatmap
    variant), the 98 -> 68 mapping and the move back by the detection's int corner."""
    net = load_awing_fan(ctx.checkpoint(golden, "awing_fan"), ctx.device)
    crop = golden["crop_rgb_uint8"].numpy()
    stacks = [s.float().cpu() for s in net(fan_input(crop).to(ctx.device))]
    heatmaps = stacks[-1][:, :-1]
    pred98 = points_in_crop(heatmaps.numpy(), *crop.shape[:2])
    lm68_crop = landmark_98_to_68(pred98)
    offset = golden["det_offset_int"].numpy().astype(np.float32)
    interior = golden["heatmaps"].numpy().copy()
    edge_value = interior.min()
    interior[..., [0, -1], :] = edge_value
    interior[..., :, [0, -1]] = edge_value
    return {
        "net_input_bgr_uint8": fan_image(crop),
        "heatmaps": heatmaps,
        "boundary_heatmap": stacks[-1][:, -1:],
        "stack_out_maxabs": torch.stack([s.abs().max() for s in stacks]),
        "argmax_idx": torch.from_numpy(heatmaps.numpy().reshape(heatmaps.shape[1], -1).argmax(axis=1)),
        "points64": calculate_points(heatmaps.numpy())[0],
        "points64_interior": calculate_points(interior)[0],
        "pred98": pred98,
        "lm68_crop": lm68_crop,
        "lm68_orig": lm68_crop + offset,
    }
