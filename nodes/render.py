"""Render: the face + its expression and head pose -> video frames (mappingNet + face-vid2vid)."""
from __future__ import annotations

import torch

from ..sadtalker_core.motion.sequences import ExpressionSequence, PoseSequence, combine_motion
from ..sadtalker_core.pipeline import RenderOptions, render_face_frames
from ..sadtalker_core.source.face import SourceFace
from . import comfy
from .convert import to_image
from .types import CATEGORY, EXPRESSION, FACE, MODELS, POSE, ModelBundle


class Render:
    """Node: the face renderer, frame batch by frame batch, with progress and cancel."""

    DESCRIPTION = (
        "Renders the face crop talking: mappingNet turns each frame's expression and pose into keypoint motion, "
        "face-vid2vid warps the source face accordingly. One frame per 40 ms of speech (25 fps), at the crop's "
        "aspect; feed the frames to Create Video with the audio and fps outputs, or to Face enhance / Paste back.")
    CATEGORY = CATEGORY
    FUNCTION = "render"
    RETURN_TYPES = ("IMAGE", "AUDIO", "FLOAT")
    RETURN_NAMES = ("frames", "audio", "fps")
    OUTPUT_TOOLTIPS = (
        "The rendered face frames (256 or 512 px wide, as the models).",
        "The audio input, passed through for Create Video (None when not connected).",
        "Frame rate of the frames (25): connect to Create Video's fps.",
    )

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "models": (MODELS, {"tooltip": "From Load SadTalker models."}),
                "face": (FACE, {"tooltip": "From Extract 3DMM."}),
                "expression": (EXPRESSION, {"tooltip": "From ExpNet (or Load motion); sets the number of frames."}),
                "pose": (POSE, {"tooltip": "From PoseVAE or a pose source; repeated from its start or cut to the "
                                           "expression's length."}),
                "batch_size": ("INT", {"default": 4, "min": 1, "max": 128,
                                       "tooltip": "Frames rendered at once: larger is faster on a GPU, needs more memory."}),
            },
            "optional": {
                "audio": ("AUDIO", {"tooltip": "The driving speech, passed through to the audio output."}),
            },
        }

    def render(self, models: ModelBundle, face: SourceFace, expression: ExpressionSequence, pose: PoseSequence,
               batch_size: int, audio: dict | None = None) -> tuple[torch.Tensor, dict | None, float]:
        motion = combine_motion(expression, pose)
        options = RenderOptions(batch_size=batch_size, yaw=pose.yaw, pitch=pose.pitch, roll=pose.roll)
        update = comfy.progress_bar(motion.num_frames)
        batches, done = [], 0
        for batch in render_face_frames(models.models, face, motion, options):
            batches.append(to_image(batch))
            done += len(batch)
            update(done)
            comfy.check_interrupted()
        return torch.cat(batches), audio, float(motion.fps)


NODES = {"SadTalkerRender": (Render, "Render: mappingNet + face-vid2vid (SadTalker)")}
