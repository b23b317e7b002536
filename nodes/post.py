"""After rendering: face restoration of the frames, and paste-back into the whole picture."""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import torch
from comfy_api.latest import io

from ..sadtalker_core.errors import InputError
from ..sadtalker_core.io.frame_size import pad_to_even
from ..sadtalker_core.pipeline import enhance_frames, paste_back
from ..sadtalker_core.post import (
    OFFICIAL_UPSCALE,
    EnhanceMode,
    FaceEnhancer,
    FaceRestorer,
    PasteMethod,
    RestorerNetworks,
    load_restorer_networks,
    restorer_files,
)
from ..sadtalker_core.source import SourceFace, to_rgb_uint8
from . import comfy
from .convert import check_image, image_frames, to_image, uint8_frames
from .types import EVEN_SIZE_NOTE, Enhancer, Face, frames_input, output, schema


@functools.lru_cache(maxsize=2)
def _restorer_networks(detection: Path, parser: Path | None, device: torch.device) -> RestorerNetworks:
    """RetinaFace and the parser, loaded once per set of files (a parser added later is a new key)
    and handed to ComfyUI's model management as the other networks are."""
    networks = load_restorer_networks(detection, parser, device)
    comfy.manage_models(networks, networks.networks(), device)
    return networks


class FaceEnhance(io.ComfyNode):
    """Node: GFPGAN / RestoreFormer / CodeFormer on every frame, as the official --enhancer
    (``official``) or on the face crops (``crop``)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerFaceEnhance", "Face enhance", "post",
            "Restores face detail with the model of Load face enhancer (the official --enhancer). mode official: "
            "run it on the finished frames (after Paste back): every face is found (RetinaFace, "
            "detection_Resnet50_Final.pth in models/facedetection), restored and pasted into frames upscale times "
            "larger (parsing_parsenet.pth there gives the official paste mask). mode crop: run it on Render's face "
            "frames, before Paste back; the frames keep their size.",
            inputs=[
                frames_input("Frames: Paste back's (or Render's) in official mode, Render's in crop mode."),
                Enhancer.Input("enhancer", tooltip="From Load face enhancer."),
                io.Combo.Input("mode", options=EnhanceMode, default=EnhanceMode.OFFICIAL, tooltip=(
                    "official: every face of whole frames, upscaled (the official --enhancer); crop: the "
                    "rendered face crop, same size, faster.")),
                io.Int.Input("upscale", default=OFFICIAL_UPSCALE, min=1, max=4,
                             tooltip="official mode: the output frames are this many times larger (official: 2)."),
                io.Float.Input("strength", default=1.0, min=0.0, max=1.0, step=0.05,
                               tooltip="1: the restored face only; 0: the frames unchanged; between: a blend."),
                io.Float.Input("codeformer_fidelity", default=0.5, min=0.0, max=1.0, step=0.05,
                               tooltip="CodeFormer in crop mode: 0 restores the most, 1 stays closest to the input."),
                io.Int.Input("batch_size", default=4, min=1, max=64, tooltip="crop mode: frames restored at once."),
            ],
            outputs=[output(io.Image, "frames", f"The restored frames (official: upscale times larger). "
                                                f"{EVEN_SIZE_NOTE}")],
        )

    @classmethod
    def execute(cls, frames: torch.Tensor, enhancer: FaceEnhancer, mode: str, upscale: int, strength: float,
                codeformer_fidelity: float, batch_size: int) -> io.NodeOutput:
        check_image(frames, "frames")
        update = comfy.progress_bar(len(frames))
        comfy.load_on_device(enhancer)
        if EnhanceMode(mode) is EnhanceMode.OFFICIAL:
            folders = [*comfy.model_folders(comfy.FACE_DETECTION), *comfy.model_folders(comfy.SADTALKER)]
            networks = _restorer_networks(*restorer_files(folders), next(enhancer.model.parameters()).device)
            comfy.load_on_device(networks)
            restorer = FaceRestorer(networks.detector, enhancer, networks.parser, upscale=upscale, strength=strength)
            restored_frames = []
            for frame in restorer.restore_frames(uint8_frames(frames[..., :3], "frames")):
                restored_frames.append(frame)
                update(len(restored_frames))
                comfy.check_interrupted()
            return io.NodeOutput(pad_to_even(to_image(np.stack(restored_frames))))
        restored = []
        for start in range(0, len(frames), batch_size):
            restored.append(enhance_frames(frames[start:start + batch_size, ..., :3], enhancer, strength,
                                           codeformer_fidelity))
            update(start + len(restored[-1]))
            comfy.check_interrupted()
        return io.NodeOutput(pad_to_even(torch.cat(restored)))


class PasteBack(io.ComfyNode):
    """Node: the rendered face frames pasted back into the whole picture."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerPasteBack", "Paste back", "post",
            "Pastes the rendered face frames back into the whole picture, frame by frame (preprocess full / "
            "extfull). feather: a soft-edged blend that keeps the rendered colours; seamless: the official Poisson "
            "blend (slower).",
            inputs=[
                frames_input("Face frames from Render (or Face enhance)."),
                Face.Input("face", tooltip="From Extract 3DMM with preprocess full or extfull."),
                io.Image.Input("original", tooltip="The picture the face was extracted from (its first frame is "
                                                   "used)."),
                io.Combo.Input("method", options=PasteMethod, default=PasteMethod.FEATHER, tooltip=(
                    "feather: soft edge, rendered colours, fast; seamless: official Poisson blend, slow.")),
            ],
            outputs=[output(io.Image, "frames", f"Full-size frames, the size of the original picture. "
                                                f"{EVEN_SIZE_NOTE}")],
        )

    @classmethod
    def execute(cls, frames: torch.Tensor, face: SourceFace, original: torch.Tensor, method: str) -> io.NodeOutput:
        crop = face.crop
        if not crop.mode.pastes_back:
            raise InputError(f"face: preprocess '{crop.mode.value}' does not paste back; set Extract 3DMM's "
                             "preprocess to full or extfull")
        picture = to_rgb_uint8(image_frames(original, "original")[0], "original")
        if (picture.shape[1], picture.shape[0]) != crop.info.image_size:
            width, height = crop.info.image_size
            raise InputError(f"original is {picture.shape[1]}x{picture.shape[0]} but the face was extracted from a "
                             f"{width}x{height} picture; connect the picture given to Extract 3DMM")
        update = comfy.progress_bar(len(frames))
        pasted = []
        for frame in paste_back(uint8_frames(frames, "frames"), dataclasses.replace(crop, full_image=picture), method):
            pasted.append(frame)
            update(len(pasted))
            comfy.check_interrupted()
        return io.NodeOutput(to_image(np.stack(pasted)))


NODES = [FaceEnhance, PasteBack]
