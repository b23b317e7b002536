"""Render: the face + its expression and head pose -> video frames (mappingNet + face-vid2vid)."""
from __future__ import annotations

import torch
from comfy_api.latest import io

from ..sadtalker_core.config import MAX_FPS, VIDEO_FPS
from ..sadtalker_core.dub import DubOptions, dub_frames, streamed_video, video_rate
from ..sadtalker_core.io.frame_size import pad_to_even
from ..sadtalker_core.io.video_reader import probe_video
from ..sadtalker_core.models import SadTalkerModels
from ..sadtalker_core.motion import ExpressionSequence, PoseSequence, combine_motion
from ..sadtalker_core.motion.length import LengthPolicy
from ..sadtalker_core.pipeline import RenderOptions, render_face_frames, timed_motion
from ..sadtalker_core.post import PasteMethod
from ..sadtalker_core.render.batch_size import MAX_BATCH_SIZE
from ..sadtalker_core.source import CropLandmarks, FaceOrder, PreprocessMode, SourceFace
from . import comfy
from .convert import audio_clip, speech, to_image
from .types import EVEN_SIZE_NOTE, Expression, Pose, face_input, models_input, output, schema, speech_input

BATCH_SIZE_HELP = ("Frames per render step: on a GPU the generator renders them at once (larger is faster, needs "
                   "more memory); on the CPU it renders them one by one, as fast. 0: as many as fit the GPU's free "
                   "memory (1 on the CPU).")


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
                io.Int.Input("batch_size", default=0, min=0, max=MAX_BATCH_SIZE, tooltip=BATCH_SIZE_HELP),
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


class DubVideo(io.ComfyNode):
    """Node: a talking video with new speech -> the same video with the mouth following the speech."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerDubVideo", "Dub video", "render",
            "Lip-syncs a talking video to new speech: every frame keeps its own head pose, background and blinks, "
            "and only the face's expression follows the speech (ExpNet). Each frame's face is found, its crop "
            "smoothed over time, rendered from its own 3DMM coefficients and pasted back with that frame's box; "
            "frames without a face pass through unchanged. Frames come out at the video's size and frame rate, "
            "as long as the speech (see length). Not in the official SadTalker, which animates one picture.",
            inputs=[
                models_input(),
                io.Video.Input("video", tooltip="The talking video (Load Video); decoded here, frame by frame."),
                speech_input(),
                io.Combo.Input("length", options=LengthPolicy, default=LengthPolicy.PINGPONG, tooltip=(
                    "When the speech is longer than the video: pingpong plays the video forward then backward "
                    "(no jump), loop starts it over, cut ends the output with the video (the speech is cut). "
                    "Shorter speech always ends the output with the speech.")),
                io.Combo.Input("preprocess", options=[PreprocessMode.FULL.value, PreprocessMode.EXTFULL.value],
                               default=PreprocessMode.FULL.value,
                               tooltip="full: the face crop pasted back; extfull: a wider crop."),
                io.Combo.Input("paste", options=PasteMethod, default=PasteMethod.FEATHER, tooltip=(
                    "feather: a soft-edged blend, pixels outside the face box untouched; seamless: the official "
                    "Poisson blend (slower).")),
                io.Float.Input("expression_scale", default=1.0, min=0.0, max=3.0, step=0.05,
                               tooltip="Scales the speech's expression: above 1 exaggerates the mouth."),
                io.Int.Input("batch_size", default=0, min=0, max=MAX_BATCH_SIZE, tooltip=BATCH_SIZE_HELP),
                io.Int.Input("face_index", default=0, min=0, max=64, tooltip=(
                    "Which face to dub when there are several, chosen on the first frame with a face, counted in "
                    "face_order: 0 is the first.")),
                io.Combo.Input("face_order", options=FaceOrder, default=FaceOrder.SCORE, tooltip=(
                    "The order face_index counts faces in: score (the detector's most confident first) or largest.")),
                io.Combo.Input("crop_landmarks", options=CropLandmarks, default=CropLandmarks.DETECT, tooltip=(
                    "detect: find the face again on each crop, as the official SadTalker does for a picture; "
                    "mapped: reuse the frame's landmarks, one detection fewer per frame.")),
            ],
            outputs=[
                output(io.Image, "frames", f"Every output frame at the video's size. {EVEN_SIZE_NOTE}"),
                output(io.Audio, "audio", "The speech, cut to the frames' duration: connect to Create Video."),
                output(io.Float, "fps", "The video's frame rate (rounded to whole frames per second): connect to "
                                        "Create Video's fps."),
            ],
        )

    @classmethod
    def execute(cls, models: SadTalkerModels, video, audio: dict, length: str, preprocess: str, paste: str,
                expression_scale: float, batch_size: int, face_index: int, face_order: str,
                crop_landmarks: str) -> io.NodeOutput:
        options = DubOptions(length=length, mode=preprocess, paste=paste, expression_scale=expression_scale,
                             batch_size=batch_size, crop_landmarks=crop_landmarks, face_index=face_index,
                             face_order=face_order)
        source = video.get_stream_source()
        fps = video_rate(probe_video(source).fps, "video")
        features = speech(audio)
        comfy.load_on_device(models)
        dubbed = dub_frames(models, streamed_video(source), features, options, fps=fps, name="the video input")
        update = comfy.progress_bar(dubbed.num_frames)
        frames = []
        for done, frame in enumerate(dubbed.frames, start=1):
            frames.append(to_image(pad_to_even(frame[None])))
            update(done)
            comfy.check_interrupted()
        return io.NodeOutput(torch.cat(frames), audio_clip(audio, dubbed.duration), float(fps))


NODES = [Render, DubVideo]
