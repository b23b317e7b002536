"""Extract 3DMM: a picture (or the frames of a video, as many as the speech needs) -> the face to
animate and its coefficients."""
from __future__ import annotations

import torch
from comfy_api.latest import io

from ..sadtalker_core.config import VIDEO_FPS, ReferenceFrames
from ..sadtalker_core.errors import SettingError
from ..sadtalker_core.io.video_reader import iter_reference_frames, reference_frame_count, reference_indices
from ..sadtalker_core.models import SadTalkerModels
from ..sadtalker_core.pipeline import extract_frames
from ..sadtalker_core.source import CropLandmarks, FaceOrder, PreprocessMode
from . import comfy
from .convert import image_frames, speech, to_image
from .types import Coeffs, Face, models_input, output, schema

PREPROCESS_HELP = (
    "crop: the face only; extcrop: a wider crop; resize: the whole picture (already a face portrait); "
    "full / extfull: like crop / extcrop, for pasting the face back into the whole picture (Paste back)."
)


class Extract3DMM(io.ComfyNode):
    """Node: face detection, crop and 3DMM regression of a picture or a picture batch."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerExtract3DMM", "Extract 3DMM", "source",
            "Finds the face, crops it as the preprocess mode says and regresses its 3DMM coefficients (identity, "
            "expression, head pose). Given a batch of pictures (a video's frames), the crop is fixed by the first "
            "frame and every frame's coefficients come out: a reference for blinks (ExpNet) or head pose.",
            inputs=[
                models_input(),
                io.Combo.Input("preprocess", options=PreprocessMode, default=PreprocessMode.CROP,
                               tooltip=PREPROCESS_HELP),
                io.Int.Input("face_index", default=0, min=0, max=64,
                             tooltip="Which face, when there are several, counted in face_order: 0 is the first."),
                io.Combo.Input("face_order", options=FaceOrder, default=FaceOrder.SCORE, optional=True,
                               tooltip="The order face_index counts faces in: score (the detector's most confident "
                                       "first, as the official SadTalker) or largest (the largest first)."),
                io.Combo.Input("reference_frames", options=ReferenceFrames, default=ReferenceFrames.ONE_TO_ONE,
                               optional=True,
                               tooltip="For a video's frames: one-to-one takes each frame as one 25 fps motion frame "
                                       "whatever the video's rate (the official behaviour); resample takes them on a "
                                       "25 fps timeline using the fps input, keeping the video's timing."),
                io.Float.Input("fps", default=float(VIDEO_FPS), min=1.0, max=240.0, step=0.01, optional=True,
                               tooltip="Frame rate of the picture batch (connect Get Video Components' fps); used "
                                       "when reference_frames is resample."),
                io.Combo.Input("crop_landmarks", options=CropLandmarks, default=CropLandmarks.DETECT, optional=True,
                               tooltip="detect: find the face again on the crop, as the official SadTalker does; "
                                       "mapped: reuse the picture's landmarks, one detection fewer (faster, not the "
                                       "official numbers)."),
                io.Image.Input("image", optional=True,
                               tooltip="A portrait, or a video's frames (e.g. from Get Video Components). Connect "
                                       "this or video."),
                io.Video.Input("video", optional=True, tooltip=(
                    "A video (Load Video) in place of image: decoded here, frame by frame, and only as far as the "
                    "clip needs when the speech is connected (Get Video Components decodes it whole).")),
                io.Audio.Input("audio", optional=True, tooltip=(
                    "For a reference video: connect the speech, and only the frames the clip uses are extracted "
                    "(one per 40 ms of speech; a longer video's later frames would never be used). Not connected: "
                    "every frame.")),
            ],
            outputs=[
                output(Face, "face", "The face to animate (from the first picture): crop, crop info and source "
                                     "coefficients."),
                output(Coeffs, "coefficients", "3DMM coefficients of every picture at 25 fps: connect to ExpNet's "
                                               "blink_reference or Pose from reference."),
                output(io.Image, "crop", "The cropped face the renderer animates, for a preview."),
            ],
        )

    @classmethod
    def execute(cls, models: SadTalkerModels, preprocess: str, face_index: int,
                face_order: str = FaceOrder.SCORE.value, reference_frames: str = ReferenceFrames.ONE_TO_ONE.value,
                fps: float = VIDEO_FPS, crop_landmarks: str = CropLandmarks.DETECT.value,
                image: torch.Tensor | None = None, video=None, audio: dict | None = None) -> io.NodeOutput:
        limit = None if audio is None else speech(audio).num_frames
        if (image is None) == (video is None):
            raise SettingError("Extract 3DMM: connect either image (a picture or frames) or video, not both")
        if video is not None:
            source = video.get_stream_source()
            count = reference_frame_count(source, reference_frames)
            total = count if limit is None else min(count, limit)
            pictures = iter_reference_frames(source, reference_frames, limit)
        else:
            frames = image_frames(image)
            indices = reference_indices(len(frames), fps, reference_frames)[:limit]
            total, pictures = len(indices), (frames[i] for i in indices)
        update = comfy.progress_bar(total)

        def on_frame(done: int) -> None:
            update(done)
            comfy.check_interrupted()

        comfy.load_on_device(models)
        face, coefficients = extract_frames(models, pictures, preprocess, face_index, on_frame,
                                            name="the video input" if video is not None else "the image input", crop_landmarks=crop_landmarks,
                                            face_order=face_order)
        return io.NodeOutput(face, coefficients, to_image(face.crop.image[None]))


NODES = [Extract3DMM]
