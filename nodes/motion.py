"""Motion nodes: ExpNet (expression), PoseVAE (head pose), the pose sources that can stand in for
PoseVAE (still head, reference video, free-view keyframes), and motion files."""
from __future__ import annotations

import logging

from ..sadtalker_core.config import PoseVAEConfig
from ..sadtalker_core.motion.files import SUFFIXES, load_motion, save_motion
from ..sadtalker_core.motion.sequences import (
    ExpressionSequence,
    Motion,
    PoseSequence,
    combine_motion,
    split_motion,
    with_free_view,
    with_head_motion_scale,
    with_reference_motion,
)
from ..sadtalker_core.pipeline import BlinkMode, make_expression, make_pose
from ..sadtalker_core.source.face import SourceFace
from . import comfy
from .convert import speech
from .types import CATEGORY, COEFFS, EXPRESSION, FACE, MODELS, POSE, ModelBundle

log = logging.getLogger(__name__)

SEED = ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True,
                "tooltip": "Seed of the random draws: the same seed gives the same motion."})
COMMON = {
    "models": (MODELS, {"tooltip": "From Load SadTalker models."}),
    "face": (FACE, {"tooltip": "From Extract 3DMM: the face to animate."}),
    "audio": ("AUDIO", {"tooltip": "The driving speech (any sample rate; channels are mixed)."}),
}
FACE_INPUT = {"face": COMMON["face"]}


class ExpNetNode:
    """Node: speech -> facial expression of every video frame (lips, face, blinks)."""

    DESCRIPTION = ("ExpNet: the face's expression for every 25 fps video frame of the speech, lip motion "
                   "included, with blinks from the official random schedule, a reference video, or none.")
    CATEGORY = CATEGORY
    FUNCTION = "generate"
    RETURN_TYPES = (EXPRESSION,)
    RETURN_NAMES = ("expression",)
    OUTPUT_TOOLTIPS = ("Expression sequence: connect to Render or Save motion.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                **COMMON,
                "expression_scale": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 3.0, "step": 0.05,
                                               "tooltip": "Strength of the expression: >1 livelier, <1 calmer."}),
                "blink": (["auto", "off"], {"default": "auto", "tooltip": (
                    "auto: the reference video's blinks when blink_reference is connected, else the official "
                    "random blinks; off: no blinks.")}),
                "seed": SEED,
            },
            "optional": {
                "blink_reference": (COEFFS, {"tooltip": (
                    "Coefficients of a reference video (Extract 3DMM on its frames): the eyes follow its blinks.")}),
            },
        }

    def generate(self, models: ModelBundle, face: SourceFace, audio: dict, expression_scale: float, blink: str,
                 seed: int, blink_reference: Motion | None = None) -> tuple[ExpressionSequence]:
        if blink == "off" and blink_reference is not None:
            raise ValueError("blink is 'off' but blink_reference is connected: set blink to 'auto' to follow "
                             "the reference video, or disconnect it")
        mode = BlinkMode.RANDOM if blink == "auto" else BlinkMode.OFF
        expression = make_expression(models.models, face, speech(audio), mode, seed, blink_reference)
        return (expression.scaled(expression_scale),)


class PoseVAENode:
    """Node: speech -> head pose of every video frame."""

    DESCRIPTION = ("PoseVAE: natural head motion for every 25 fps video frame of the speech, in one of 46 "
                   "learned styles, starting from the face's own pose.")
    CATEGORY = CATEGORY
    FUNCTION = "generate"
    RETURN_TYPES = (POSE,)
    RETURN_NAMES = ("pose",)
    OUTPUT_TOOLTIPS = ("Head pose sequence: connect to Render, a pose source or Save motion.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        styles = PoseVAEConfig().num_classes
        return {"required": {
            **COMMON,
            "pose_style": ("INT", {"default": 0, "min": 0, "max": styles - 1,
                                   "tooltip": "One of the 46 head-motion styles PoseVAE learned."}),
            "head_motion_scale": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 3.0, "step": 0.05,
                                            "tooltip": "0: no head motion; 1: as generated; >1: livelier."}),
            "seed": SEED,
        }}

    def generate(self, models: ModelBundle, face: SourceFace, audio: dict, pose_style: int,
                 head_motion_scale: float, seed: int) -> tuple[PoseSequence]:
        pose = make_pose(models.models, face, speech(audio), pose_style, seed)
        return (with_head_motion_scale(pose, head_motion_scale),)


class StillPose:
    """Node: the face's own head pose, held: a head that does not move."""

    DESCRIPTION = "A head that keeps the source picture's pose (the official --still), in place of PoseVAE."
    CATEGORY = CATEGORY
    FUNCTION = "pose"
    RETURN_TYPES = (POSE,)
    RETURN_NAMES = ("pose",)
    OUTPUT_TOOLTIPS = ("Head pose held for the whole clip.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": dict(FACE_INPUT)}

    def pose(self, face: SourceFace) -> tuple[PoseSequence]:
        return (PoseSequence.still(face.source_coeff),)


class PoseFromReference:
    """Node: head motion taken from a reference video's coefficients."""

    DESCRIPTION = (
        "Head motion from a reference video (the official --ref_pose): the video's movement relative to its "
        "first frame, added to the face's own pose or to a connected pose (e.g. PoseVAE's). A video shorter "
        "than the speech repeats from its start.")
    CATEGORY = CATEGORY
    FUNCTION = "pose"
    RETURN_TYPES = (POSE,)
    RETURN_NAMES = ("pose",)
    OUTPUT_TOOLTIPS = ("Head pose sequence following the reference video.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                **FACE_INPUT,
                "coefficients": (COEFFS, {"tooltip": "Extract 3DMM's coefficients of the reference video's frames."}),
            },
            "optional": {
                "pose": (POSE, {"tooltip": "A pose to add the movement to (default: the face's own pose, held)."}),
            },
        }

    def pose(self, face: SourceFace, coefficients: Motion, pose: PoseSequence | None = None) -> tuple[PoseSequence]:
        base = pose if pose is not None else PoseSequence.still(face.source_coeff)
        return (with_reference_motion(base, coefficients.pose),)


def _keyframes(text: str, name: str) -> tuple[float, ...] | None:
    """'0, 30, -30' -> (0.0, 30.0, -30.0); an empty text -> None (the angle is left alone)."""
    parts = [part.strip() for part in text.replace(";", ",").split(",")]
    if not any(parts):
        return None
    try:
        return tuple(float(part) for part in parts if part)
    except ValueError:
        raise ValueError(f"{name}: '{text}' is not a list of degrees; write numbers separated by commas, "
                         "e.g. 0, 30, -30, 0") from None


class FreeView:
    """Node: yaw / pitch / roll keyframes that replace the rendered head angles."""

    DESCRIPTION = (
        "Free-view camera (the official --input_yaw / --input_pitch / --input_roll): keyframe angles in degrees, "
        "spread evenly over the clip, replace the head's yaw / pitch / roll when rendering. Leave a field empty "
        "to keep that angle from the connected pose.")
    CATEGORY = CATEGORY
    FUNCTION = "pose"
    RETURN_TYPES = (POSE,)
    RETURN_NAMES = ("pose",)
    OUTPUT_TOOLTIPS = ("The pose with the keyframes: connect to Render.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        def angle(default: str, what: str) -> tuple:
            return ("STRING", {"default": default, "tooltip": f"{what} keyframes in degrees, comma separated "
                                                              "(e.g. 0, 30, -30, 0); empty: unchanged."})
        return {"required": {
            "pose": (POSE, {"tooltip": "The pose to turn (PoseVAE, Still pose or Pose from reference)."}),
            "yaw": angle("0, 30, -30, 0", "Left / right turn"),
            "pitch": angle("", "Up / down nod"),
            "roll": angle("", "Sideways tilt"),
        }}

    def pose(self, pose: PoseSequence, yaw: str, pitch: str, roll: str) -> tuple[PoseSequence]:
        keys = {name: _keyframes(text, name) for name, text in (("yaw", yaw), ("pitch", pitch), ("roll", roll))}
        return (with_free_view(pose, **keys),)


class SaveMotion:
    """Output node: expression + pose to a motion file in ComfyUI's output folder."""

    DESCRIPTION = ("Saves the expression and pose sequences to ComfyUI/output: .safetensors or .npz (with "
                   "blinks and fps), or the official .mat coefficient file. Free-view keyframes are not saved.")
    CATEGORY = CATEGORY
    FUNCTION = "save"
    RETURN_TYPES = ()
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {
            "expression": (EXPRESSION, {"tooltip": "From ExpNet (or Load motion)."}),
            "pose": (POSE, {"tooltip": "From PoseVAE, a pose source (or Load motion)."}),
            "filename_prefix": ("STRING", {"default": "sadtalker/motion",
                                           "tooltip": "File name start, sub-folders allowed, inside ComfyUI/output."}),
            "format": ([s.lstrip(".") for s in SUFFIXES], {"default": "safetensors", "tooltip": (
                "safetensors / npz: this plugin's motion file; mat: the official SadTalker coefficient file.")}),
        }}

    def save(self, expression: ExpressionSequence, pose: PoseSequence, filename_prefix: str, format: str) -> dict:
        if pose.has_free_view:
            log.warning("Save motion: the pose's free-view keyframes are not stored in motion files")
        path = comfy.save_path(filename_prefix, f".{format}")
        save_motion(combine_motion(expression, pose), path)
        return {"ui": {"text": [str(path.relative_to(comfy.output_dir()))]}}


class LoadMotion:
    """Node: a motion file from ComfyUI's input folder -> expression + pose (+ coefficients)."""

    DESCRIPTION = ("Loads a motion saved by Save motion (.safetensors / .npz) or an official SadTalker .mat "
                   "coefficient file from ComfyUI/input.")
    CATEGORY = CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = (EXPRESSION, POSE, COEFFS)
    RETURN_NAMES = ("expression", "pose", "coefficients")
    OUTPUT_TOOLTIPS = ("Expression sequence.", "Head pose sequence.",
                       "The same frames as coefficients, for ExpNet's blink_reference or Pose from reference.")

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        folder = comfy.input_dir()
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES) \
            if folder.is_dir() else []
        return {"required": {"motion_file": (files, {"tooltip": "A motion file in ComfyUI/input."})}}

    @classmethod
    def IS_CHANGED(cls, motion_file: str) -> float:
        path = comfy.input_dir() / motion_file
        return path.stat().st_mtime if path.is_file() else float("nan")

    def load(self, motion_file: str) -> tuple[ExpressionSequence, PoseSequence, Motion]:
        motion = load_motion(comfy.input_dir() / motion_file)
        return (*split_motion(motion), motion)


NODES = {
    "SadTalkerExpNet": (ExpNetNode, "ExpNet: speech to expression (SadTalker)"),
    "SadTalkerPoseVAE": (PoseVAENode, "PoseVAE: speech to head pose (SadTalker)"),
    "SadTalkerStillPose": (StillPose, "Still pose (SadTalker)"),
    "SadTalkerPoseFromReference": (PoseFromReference, "Pose from reference video (SadTalker)"),
    "SadTalkerFreeView": (FreeView, "Free-view keyframes (SadTalker)"),
    "SadTalkerSaveMotion": (SaveMotion, "Save motion (SadTalker)"),
    "SadTalkerLoadMotion": (LoadMotion, "Load motion (SadTalker)"),
}
