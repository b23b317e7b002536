"""Handlers for the crop and paste-back goldens: ``croper`` and ``paste_pic``.

``croper`` holds one or more slots, each a picture (the file its meta ``source_pics`` names for the
slot, decoded with cv2.imread, then RGB, as the reference) and its 68 landmarks ``<slot>_lm68``;
every slot's outputs are recomputed.  ``paste_pic`` starts from the golden's own rendered frames
(already at the crop's aspect), crop box and quad, and the full picture its meta names.
"""
from __future__ import annotations

import cv2
import numpy as np

from sadtalker_core.post.paste import SeamlessPaste
from sadtalker_core.source.crop import Box, CropInfo, crop_geometry

from .golden import Golden
from .registry import EXACT, StageContext, Tolerance, stage

#: cv2.seamlessClone (a Poisson solve in float) is deterministic on one machine but may differ by 1
#: across CPUs (shared README, golden 17)
SEAMLESS_CLONE = Tolerance(abs=1)


def _read_bgr(ctx: StageContext, name: str) -> np.ndarray:
    path = ctx.media(name)
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"{path}: cv2 cannot decode it")
    return image


def _int64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _slot_pictures(golden: Golden) -> dict[str, str]:
    """Slot -> picture file, from meta ``source_pics``; every ``<slot>_lm68`` tensor needs one."""
    slots = {name.removesuffix("_lm68") for name in golden.tensors if name.endswith("_lm68")}
    pictures = golden.meta.get("source_pics")
    if not isinstance(pictures, dict) or set(pictures) != slots:
        raise ValueError(f"{golden.path.name}: meta 'source_pics' must map each slot with landmarks "
                         f"({', '.join(sorted(slots)) or 'none'}) to its picture, got {pictures!r}")
    return pictures


@stage("croper", {
    "*_rsize": EXACT,
    "*_crop": EXACT,
    "*_quad": Tolerance(abs=1e-9),  # float64 geometry
    "*_crop_info_size": EXACT,
    "*_cropped_uint8": EXACT,  # pure slices of the decoded picture
    "*_cropped_still_uint8": EXACT,
}, inputs=("*_lm68",))
def croper_stage(golden: Golden, ctx: StageContext) -> dict:
    outputs = {}
    for slot, picture in _slot_pictures(golden).items():
        image = cv2.cvtColor(_read_bgr(ctx, picture), cv2.COLOR_BGR2RGB)
        info = crop_geometry(golden[f"{slot}_lm68"].numpy(), (image.shape[1], image.shape[0]))
        c = info.crop
        outputs.update({
            f"{slot}_rsize": _int64(info.rsize),
            f"{slot}_crop": _int64((c.x1, c.y1, c.x2, c.y2)),
            f"{slot}_quad": np.asarray(info.quad, dtype=np.float64),
            f"{slot}_crop_info_size": _int64(info.size),
            f"{slot}_cropped_uint8": info.cut(image, extended=False),
            f"{slot}_cropped_still_uint8": info.cut(image, extended=True),
        })
    return outputs


@stage("paste_pic", {
    "crop_info_size": EXACT,
    "paste_box_xyxy": EXACT,
    "location": EXACT,
    "roi_yyxx": EXACT,
    "full_img_roi_bgr": EXACT,  # a slice of the decoded picture
    "out_roi_bgr": SEAMLESS_CLONE,
}, inputs=("rendered_rgb_uint8", "crop_info_crop", "crop_info_quad"))
def paste_pic_stage(golden: Golden, ctx: StageContext) -> dict:
    """The golden's rendered frames (RGB, at the crop's aspect) pasted into its full picture."""
    full_bgr = _read_bgr(ctx, golden.meta["full_pic"])
    height, width = full_bgr.shape[:2]
    info = CropInfo((width, height), (width, height), Box(*golden["crop_info_crop"].tolist()),
                    tuple(golden["crop_info_quad"].tolist()))
    box = info.paste_box(extended=bool(golden.meta["extended_crop"]))
    paste = SeamlessPaste(full_bgr, box, info.size)
    roi = paste.changed_region()
    # the reference reads the written video back with cv2.VideoCapture, i.e. as BGR
    out = np.stack([paste(np.ascontiguousarray(frame[..., ::-1])) for frame in golden["rendered_rgb_uint8"].numpy()])
    return {
        "crop_info_size": _int64(info.size),
        "paste_box_xyxy": _int64((box.x1, box.y1, box.x2, box.y2)),
        "location": _int64(box.center),
        "roi_yyxx": _int64((roi.y1, roi.y2, roi.x1, roi.x2)),
        "full_img_roi_bgr": full_bgr[roi.y1:roi.y2, roi.x1:roi.x2],
        "out_roi_bgr": out[:, roi.y1:roi.y2, roi.x1:roi.x2],
    }
