"""Extract 3DMM: a picture (or every frame of a video) -> the face to animate and its coefficients."""
from __future__ import annotations

import torch

from ..sadtalker_core.motion.sequences import Motion
from ..sadtalker_core.pipeline import extract_frames
from ..sadtalker_core.post.video import DEFAULT_FPS, resample_indices
from ..sadtalker_core.source.crop import PreprocessMode
from ..sadtalker_core.source.face import CropLandmarks, SourceFace
from . import comfy
from .convert import image_frames, to_image
from .types import CATEGORY, COEFFS, FACE, MODELS, ModelBundle

PREPROCESS_HELP = (
    "crop: the face only; extcrop: a wider crop; resize: the whole picture (already a face portrait); "
    "full / extfull: like crop / extcrop, for pasting the face back into the whole picture (Paste back)."
)


class Extract3DMM:
    """Node: face detection, crop and 3DMM regression of a picture or a picture batch."""

    DESCRIPTION = (
        "Finds the face, crops it as the preprocess mode says and regresses its 3DMM coefficients (identity, "
        "expression, head pose). Given a batch of pictures (a video's frames), the crop is fixed by the first "
        "frame and every frame's coefficients come out: a reference for blinks (ExpNet) or head pose."
    )
    CATEGORY = CATEGORY
    FUNCTION = "extract"
    RETURN_TYPES = (FACE, COEFFS, "IMAGE")
    RETURN_NAMES = ("face", "coefficients", "crop")
    OUTPUT_TOOLTIPS = (
        "The face to animate (from the first picture): crop, crop info and source coefficients.",
        "3DMM coefficients of every picture at 25 fps: connect to ExpNet's blink_reference or Pose from reference.",
        "The cropped face the renderer animates, for a preview.",
    )

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "models": (MODELS, {"tooltip": "From Load SadTalker models."}),
                "image": ("IMAGE", {"tooltip": "A portrait, or a video's frames (e.g. from Get Video Components)."}),
                "preprocess": ([m.value for m in PreprocessMode], {"default": "crop", "tooltip": PREPROCESS_HELP}),
                "face_index": ("INT", {"default": 0, "min": 0, "max": 64,
                                       "tooltip": "Which face, when there are several: 0 is the largest."}),
            },
            "optional": {
                "fps": ("FLOAT", {"default": float(DEFAULT_FPS), "min": 1.0, "max": 240.0, "step": 0.01,
                                  "tooltip": "Frame rate of the picture batch (connect Get Video Components' fps); "
                                             "other rates are resampled to SadTalker's 25 fps."}),
                "crop_landmarks": ([m.value for m in CropLandmarks], {"default": CropLandmarks.DETECT.value, "tooltip": (
                    "detect: find the face again on the crop, as the official SadTalker does; mapped: reuse the "
                    "picture's landmarks, one detection fewer (faster, not the official numbers).")}),
            },
        }

    def extract(self, models: ModelBundle, image: torch.Tensor, preprocess: str, face_index: int,
                fps: float = DEFAULT_FPS, crop_landmarks: str = CropLandmarks.DETECT.value,
                ) -> tuple[SourceFace, Motion, torch.Tensor]:
        frames = image_frames(image)
        indices = resample_indices(len(frames), fps)
        update = comfy.progress_bar(len(indices))

        def on_frame(done: int) -> None:
            update(done)
            comfy.check_interrupted()

        face, coefficients = extract_frames(models.models, (frames[i] for i in indices), preprocess, models.detector,
                                            face_index, on_frame, name="the image input", crop_landmarks=crop_landmarks)
        return face, coefficients, to_image(face.crop.image[None])


NODES = {"SadTalkerExtract3DMM": (Extract3DMM, "Extract 3DMM (SadTalker)")}
