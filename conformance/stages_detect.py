"""Conformance handlers of the face detection / landmark goldens: ``retinaface`` and ``awing_fan``."""
from __future__ import annotations

import re

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

#: a selection output: candidates / NMS keep list / detections at the score threshold its name
#: carries (``thr0p97`` = 0.97)
_SELECTION = re.compile(r"(cand_idx|nms_keep|dets)_thr(\d+)p(\d+)")
#: the call the golden records in its meta stage, e.g. ``detect_faces(img, 0.97)``
_CALL = re.compile(r"detect_faces\([^,()]*,\s*([0-9.]+)\s*\)")
SCORES = Tolerance(abs=1e-5)
#: |IoU - NMS threshold| a box error within the boxes' tolerance (1e-3 px) cannot cross, with a wide
#: margin (a 16-px box, the smallest anchor, moves its IoU by < 3e-4)
IOU_MARGIN = 1e-3


def _selection_thresholds(golden: Golden) -> dict[str, float]:
    """Name suffix (``0p97``) -> score threshold of every selection output the golden stores."""
    found = (_SELECTION.fullmatch(name) for name in golden.tensors)
    return {f"{m[2]}p{m[3]}": float(f"{m[2]}.{m[3]}") for m in found if m}


def _call_threshold(golden: Golden) -> float:
    match = _CALL.search(str(golden.meta.get("stage", "")))
    if match is None:
        raise ValueError(f"{golden.path.name}: meta 'stage' does not record the detect_faces(img, threshold) call")
    return float(match[1])


def _decided_with_margin(golden: DecodedDetections, threshold: float, nms_threshold: float) -> bool:
    """Whether float noise within tolerance cannot change the golden's selection at ``threshold``:
    no score near the threshold, no two candidates' scores near each other (their order), no
    candidate pair's IoU near the NMS threshold."""
    scores = golden.scores.numpy()
    if np.abs(scores - np.float32(threshold)).min(initial=np.inf) <= SCORES.abs:
        return False
    above = np.flatnonzero(scores > threshold)
    if np.diff(np.sort(scores[above])).min(initial=np.inf) <= 2 * SCORES.abs:
        return False
    boxes = golden.boxes.numpy()[above].astype(np.float64)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for i in range(len(boxes) - 1):
        rest = boxes[i + 1:]
        width = np.clip(np.minimum(boxes[i, 2], rest[:, 2]) - np.maximum(boxes[i, 0], rest[:, 0]), 0, None)
        height = np.clip(np.minimum(boxes[i, 3], rest[:, 3]) - np.maximum(boxes[i, 1], rest[:, 1]), 0, None)
        inter = width * height
        if np.abs(inter / (areas[i] + areas[i + 1:] - inter) - nms_threshold).min() <= IOU_MARGIN:
            return False
    return True


def _selection_outputs(decoded: DecodedDetections, suffix: str, threshold: float, nms_threshold: float) -> dict[str, Output]:
    chosen = select(decoded, threshold, nms_threshold)
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
        "conf": SCORES,
        "priors": Tolerance(abs=1e-7),  # float32 of a double formula: exact in practice
        "boxes_decoded": Tolerance(abs=1e-3),
        "landms_decoded": Tolerance(abs=1e-3),
        "scores": SCORES,
        "cand_idx_thr*": EXACT,
        "nms_keep_thr*": EXACT,
        "dets_thr*": Tolerance(abs=1e-3),
        "crop_box_int": EXACT,
    },
    inputs=("image_rgb_uint8", "loc", "conf_logits", "landms", "priors"),  # the raw outputs: see the selection below
)
def retinaface(golden: Golden, ctx: StageContext) -> dict[str, Output]:
    """Network outputs, priors and decoding from our own forward pass; the selection (threshold,
    sort, NMS) at every threshold the golden stores, and at the threshold of its recorded call
    for ``crop_box_int``.  A selection is made from our own decoded outputs where the golden's
    margins let no float noise within tolerance change it, else from the golden's raw outputs (the
    post-processing alone is then checked, exactly)."""
    net = load_retinaface(ctx.checkpoint(golden, "retinaface"), ctx.device)
    nms_threshold = float(golden.meta.get("nms_threshold", NMS_IOU_THRESHOLD))
    image = golden["image_rgb_uint8"].numpy()
    height, width = image.shape[:2]
    raw = net(detector_input(image).to(ctx.device))
    priors = prior_boxes(height, width, net.anchors)
    ours = decode(RawDetections(*(t.float().cpu() for t in (raw.loc, raw.conf_logits, raw.landms))), priors,
                  height, width, net.anchors.variances)
    reference_raw = RawDetections(golden["loc"], golden["conf_logits"], golden["landms"])
    from_reference = decode(reference_raw, golden["priors"], height, width, net.anchors.variances)

    def selection(suffix: str, threshold: float) -> dict[str, Output]:
        source = ours if _decided_with_margin(from_reference, threshold, nms_threshold) else from_reference
        return _selection_outputs(source, suffix, threshold, nms_threshold)

    outputs: dict[str, Output] = {
        "loc": raw.loc,
        "conf_logits": raw.conf_logits,
        "landms": raw.landms,
        "conf": torch.softmax(raw.conf_logits, dim=-1),
        "priors": priors,
        "boxes_decoded": ours.boxes,
        "landms_decoded": ours.landmarks,
        "scores": ours.scores,
    }
    for suffix, threshold in _selection_thresholds(golden).items():
        outputs.update(selection(suffix, threshold))
    call_dets = selection("", _call_threshold(golden))["dets_thr"]
    if len(call_dets):
        outputs["crop_box_int"] = torch.tensor([int(v) for v in call_dets[0, :4]], dtype=torch.int64)
    return outputs


@stage(
    "awing_fan",
    {
        "net_input_bgr_uint8": EXACT,  # cv2's uint8 bilinear resize is fixed-point integer arithmetic
        "heatmaps": Tolerance(abs=5e-3),
        "boundary_heatmap": Tolerance(abs=5e-3),
        "stack_out_maxabs": Tolerance(abs=5e-3),
        # indices, and quarter-pixel points decided by heatmap gaps >= 0.046 (shared README, golden 15)
        "argmax_idx": EXACT,
        "points64": EXACT,
        "points64_interior": EXACT,
        "pred98": Tolerance(abs=1e-4),
        "lm68_crop": Tolerance(abs=1e-4),
        "lm68_orig": Tolerance(abs=1e-4),
    },
    inputs=("crop_rgb_uint8", "det_offset_int", "heatmaps"),  # heatmaps: the interior points' synthetic variant
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
