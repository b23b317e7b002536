"""Handlers for the crop and paste-back goldens: ``croper`` and ``paste_pic`` (+ ``_extfull``).

``croper`` starts from the media pictures (decoded with cv2.imread, then RGB, as the reference)
and the stored 68 landmarks of each. ``paste_pic`` stores the rendered frames only after the
aspect resize, so its handler starts one step earlier, from the ``make_animation`` golden's
256x256 frames its meta names as input, and checks the resize, the paste box and the blend.
"""
from __future__ import annotations

import cv2
import numpy as np

from sadtalker_core.post.paste import SeamlessPaste, restore_aspect
from sadtalker_core.source.crop import Box, CropInfo, crop_geometry

from .golden import Golden, load_golden
from .registry import EXACT, StageContext, Tolerance, stage

ANIMATION_GOLDEN = "make_animation.safetensors"
PASTED_FRAMES = 2  # paste_pic goldens use make_animation frames_uint8[0:2]

_CROPER_OUTPUTS = ("rsize", "crop", "quad", "crop_info_size", "cropped_uint8", "cropped_still_uint8")


def _read_rgb(ctx: StageContext, name: str) -> np.ndarray:
    path = ctx.media(name)
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"{path}: cv2 cannot decode it")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _int64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


@stage("croper", {
    f"{picture}_{output}": Tolerance(abs=1e-9) if output == "quad" else EXACT
    for picture in ("people_0", "full_body_1") for output in _CROPER_OUTPUTS
})
def croper_stage(golden: Golden, ctx: StageContext) -> dict:
    outputs = {}
    for picture in (name.removesuffix("_lm68") for name in golden.tensors if name.endswith("_lm68")):
        image = _read_rgb(ctx, f"{picture}.png")
        info = crop_geometry(golden[f"{picture}_lm68"].numpy(), (image.shape[1], image.shape[0]))
        c = info.crop
        outputs.update({
            f"{picture}_rsize": _int64(info.rsize),
            f"{picture}_crop": _int64((c.x1, c.y1, c.x2, c.y2)),
            f"{picture}_quad": np.asarray(info.quad, dtype=np.float64),
            f"{picture}_crop_info_size": _int64(info.size),
            f"{picture}_cropped_uint8": info.cut(image, extended=False),
            f"{picture}_cropped_still_uint8": info.cut(image, extended=True),
        })
    return outputs


@stage("paste_pic", {
    "crop_info_size": EXACT,
    "rendered_rgb_uint8": EXACT,
    "paste_box_xyxy": EXACT,
    "location": EXACT,
    "roi_yyxx": EXACT,
    "full_img_roi_bgr": EXACT,
    "out_roi_bgr": EXACT,  # cv2.seamlessClone, as the reference
})
def paste_pic_stage(golden: Golden, ctx: StageContext) -> dict:
    full_bgr = cv2.imread(str(ctx.media(golden.meta["full_pic"])))
    if full_bgr is None:
        raise FileNotFoundError(f"{golden.meta['full_pic']}: cv2 cannot decode it")
    height, width = full_bgr.shape[:2]
    info = CropInfo((width, height), (width, height), Box(*golden["crop_info_crop"].tolist()),
                    tuple(golden["crop_info_quad"].tolist()))
    box = info.paste_box(extended=bool(golden.meta["extended_crop"]))

    frames_rgb = load_golden(golden.path.parent / ANIMATION_GOLDEN)["frames_uint8"].numpy()[:PASTED_FRAMES]
    paste = SeamlessPaste(full_bgr, box, info.size)
    roi = paste.changed_region()
    # the reference reads the written video back with cv2.VideoCapture, i.e. as BGR
    out = np.stack([paste(np.ascontiguousarray(frame[..., ::-1])) for frame in frames_rgb])
    return {
        "crop_info_size": _int64(info.size),
        "rendered_rgb_uint8": np.stack([restore_aspect(frame, info.size) for frame in frames_rgb]),
        "paste_box_xyxy": _int64((box.x1, box.y1, box.x2, box.y2)),
        "location": _int64(box.center),
        "roi_yyxx": _int64((roi.y1, roi.y2, roi.x1, roi.x2)),
        "full_img_roi_bgr": full_bgr[roi.y1:roi.y2, roi.x1:roi.x2],
        "out_roi_bgr": out[:, roi.y1:roi.y2, roi.x1:roi.x2],
    }
