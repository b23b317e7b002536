"""Render: the face + its expression and head pose -> video frames (mappingNet + face-vid2vid)."""
from __future__ import annotations

import torch
from comfy_api.latest import io

from ..sadtalker_core.config import MAX_FPS, VIDEO_FPS
from ..sadtalker_core.io.frame_size import pad_to_even
from ..sadtalker_core.models import SadTalkerModels
from ..sadtalker_core.motion import ExpressionSequence, PoseSequence, combine_motion
from ..sadtalker_core.pipeline import RenderOptions, render_face_frames, timed_motion
from ..sadtalker_core.render.batch_size import MAX_BATCH_SIZE
from ..sadtalker_core.source import SourceFace
from . import comfy
from .convert import to_image
from .types import EVEN_SIZE_NOTE, Expression, Pose, face_input, models_input, output, schema


class Render(io.ComfyNode):
    """Node: the face renderer, frame batch by frame batch, with progress and cancel."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerRender", "Render talking face", "render",
            "Renders the face crop talking: mappingNet turns each frame's expression and pose into keypoint motion, "
            "face-vid2vid warps the source face accordingly. At the fps input's frame rate (25 "
            "by default: one frame per 40 ms of speech) and the crop's aspect; feed the frames to Create Video with the audio and fps outputs, or to Face enhance / Paste back.",
            inputs=[
                models_input(), face_input("From Extract 3DMM."),
                Expression.Input("expression", tooltip="From ExpNet (or Load motion); sets the number of frames."),
                Pose.Input("pose", tooltip="From PoseVAE or a pose source; repeated from its start or cut to the "
                                           "expression's length."),
                io.Int.Input("batch_size", default=0, min=0, max=MAX_BATCH_SIZE,
                             tooltip="Frames per render step: on a GPU the generator renders them at once (larger is "
                                     "faster, needs more memory); on the CPU it renders them one by one, as fast. "
                                     "0: as many as fit the GPU's free memory (1 on the CPU)."),
                io.Int.Input("fps", default=VIDEO_FPS, min=1, max=MAX_FPS,
                             tooltip=f"Frame rate of the frames: the motion (made at the official {VIDEO_FPS} fps, "
                                     "one frame per 40 ms of speech) is resampled to it and keeps its length; "
                                     f"{VIDEO_FPS} renders its own frames."),
                io.Audio.Input("audio", optional=True,
                               tooltip="The driving speech, passed through to the audio output."),
            ],
            outputs=[
                output(io.Image, "frames", "The rendered face frames: 256 or 512 px wide (as the models), at the "
                                           f"crop's aspect. {EVEN_SIZE_NOTE} Paste back removes the padding."),
                output(io.Audio, "audio", "The audio input, passed through for Create Video (None when not "
                                          "connected)."),
                output(io.Float, "fps", "Frame rate of the frames (the fps input): connect to Create Video's fps."),
            ],
        )

    @classmethod
    def execute(cls, models: SadTalkerModels, face: SourceFace, expression: ExpressionSequence, pose: PoseSequence,
                batch_size: int, fps: int, audio: dict | None = None) -> io.NodeOutput:
        options = RenderOptions(batch_size=batch_size, fps=fps)
        motion = timed_motion(combine_motion(expression, pose), options)
        update = comfy.progress_bar(motion.num_frames)
        comfy.load_on_device(models)
        batches, done = [], 0
        for batch in render_face_frames(models, face, motion, options):
            batches.append(to_image(pad_to_even(batch)))
            done += len(batch)
            update(done)
            comfy.check_interrupted()
        return io.NodeOutput(torch.cat(batches), audio, float(motion.fps))


NODES = [Render]
