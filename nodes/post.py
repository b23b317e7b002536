"""After rendering: face restoration of the frames, and paste-back into the whole picture."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..sadtalker_core.post.enhance import FaceEnhancer
from ..sadtalker_core.post.paste import PasteMethod, paste_frames
from ..sadtalker_core.source.face import SourceFace, to_rgb_uint8
from . import comfy
from .convert import check_image, image_frames, to_image, uint8_frames
from .types import CATEGORY, ENHANCER, FACE


class FaceEnhance:
    """Node: GFPGAN / RestoreFormer / CodeFormer on every frame, batch by batch."""

    DESCRIPTION = ("Restores face detail in the rendered frames with the model of Load face enhancer (the "
                   "official --enhancer). Run it on Render's frames, before Paste back: that is where the face is.")
    CATEGORY = CATEGORY
    FUNCTION = "enhance"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("frames",)
    OUTPUT_TOOLTIPS = ("The restored frames, same size.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {
            "frames": ("IMAGE", {"tooltip": "Face frames, e.g. Render's."}),
            "enhancer": (ENHANCER, {"tooltip": "From Load face enhancer."}),
            "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.05,
                                   "tooltip": "1: the restored face only; 0: the frames unchanged; between: a blend."}),
            "codeformer_fidelity": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.05, "tooltip": (
                "CodeFormer only: 0 restores the most, 1 stays closest to the input.")}),
            "batch_size": ("INT", {"default": 4, "min": 1, "max": 64, "tooltip": "Frames restored at once."}),
        }}

    def enhance(self, frames: torch.Tensor, enhancer: FaceEnhancer, strength: float, codeformer_fidelity: float,
                batch_size: int) -> tuple[torch.Tensor]:
        check_image(frames, "frames")
        device = next(enhancer.model.parameters()).device
        update = comfy.progress_bar(len(frames))
        restored = []
        for start in range(0, len(frames), batch_size):
            crops = frames[start:start + batch_size].to(device).permute(0, 3, 1, 2).contiguous()
            out = enhancer.enhance(crops, strength, codeformer_fidelity)
            restored.append(out.permute(0, 2, 3, 1).float().cpu())
            update(start + len(crops))
            comfy.check_interrupted()
        return (torch.cat(restored),)


class PasteBack:
    """Node: the rendered face frames pasted back into the whole picture."""

    DESCRIPTION = ("Pastes the rendered face frames back into the whole picture, frame by frame (preprocess "
                   "full / extfull). feather: a soft-edged blend that keeps the rendered colours; seamless: the "
                   "official Poisson blend (slower).")
    CATEGORY = CATEGORY
    FUNCTION = "paste"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("frames",)
    OUTPUT_TOOLTIPS = ("Full-size frames, the size of the original picture.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {
            "frames": ("IMAGE", {"tooltip": "Face frames from Render (or Face enhance)."}),
            "face": (FACE, {"tooltip": "From Extract 3DMM with preprocess full or extfull."}),
            "original": ("IMAGE", {"tooltip": "The picture the face was extracted from (its first frame is used)."}),
            "method": ([m.value for m in PasteMethod], {"default": PasteMethod.FEATHER.value, "tooltip": (
                "feather: soft edge, rendered colours, fast; seamless: official Poisson blend, slow.")}),
        }}

    def paste(self, frames: torch.Tensor, face: SourceFace, original: torch.Tensor, method: str) -> tuple[torch.Tensor]:
        crop = face.crop
        if not crop.mode.pastes_back:
            raise ValueError(f"face: preprocess '{crop.mode.value}' does not paste back; set Extract 3DMM's "
                             "preprocess to full or extfull")
        picture = to_rgb_uint8(image_frames(original, "original")[0], "original")
        if (picture.shape[1], picture.shape[0]) != crop.info.image_size:
            width, height = crop.info.image_size
            raise ValueError(f"original is {picture.shape[1]}x{picture.shape[0]} but the face was extracted from a "
                             f"{width}x{height} picture; connect the picture given to Extract 3DMM")
        update = comfy.progress_bar(len(frames))
        pasted = []
        for frame in paste_frames(uint8_frames(frames, "frames"), dataclasses.replace(crop, full_image=picture), method):
            pasted.append(frame)
            update(len(pasted))
            comfy.check_interrupted()
        return (to_image(np.stack(pasted)),)


NODES = {
    "SadTalkerFaceEnhance": (FaceEnhance, "Face enhance (SadTalker)"),
    "SadTalkerPasteBack": (PasteBack, "Paste back (SadTalker)"),
}
