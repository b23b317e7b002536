"""Motion nodes: ExpNet (expression), PoseVAE (head pose), the pose sources that can stand in for
PoseVAE (still head, reference video, free-view keyframes), and motion files."""
from __future__ import annotations

import logging
from pathlib import Path

from comfy_api.latest import io

from ..sadtalker_core.config import PoseVAEConfig
from ..sadtalker_core.errors import MotionFileError, SadTalkerError, SettingError
from ..sadtalker_core.models import SadTalkerModels
from ..sadtalker_core.motion import (
    BlinkMode,
    ExpressionSequence,
    Motion,
    PoseSequence,
    combine_motion,
    load_motion,
    make_expression,
    make_pose,
    save_motion,
    split_motion,
    with_free_view,
    with_head_motion_scale,
    with_reference_motion,
)
from ..sadtalker_core.motion.files import SUFFIXES
from ..sadtalker_core.source import SourceFace
from . import comfy
from .convert import speech
from .types import Coeffs, Expression, Pose, face_input, models_input, output, schema, seed_input, speech_input

log = logging.getLogger(__name__)
#: the largest pose style the widget offers; the loaded PoseVAE's own style count is checked when it runs
MAX_POSE_STYLE = 65535


class ExpNetNode(io.ComfyNode):
    """Node: speech -> facial expression of every video frame (lips, face, blinks)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerExpNet", "ExpNet: speech to expression", "motion",
            "ExpNet: the face's expression for every 25 fps video frame of the speech, lip motion included, with "
            "blinks from the official random schedule, a reference video, or none.",
            inputs=[
                models_input(), face_input(), speech_input(),
                io.Float.Input("expression_scale", default=1.0, min=0.0, max=3.0, step=0.05,
                               tooltip="Strength of the expression: >1 livelier, <1 calmer."),
                io.Combo.Input("blink", options=["auto", "off"], default="auto", tooltip=(
                    "auto: the reference video's blinks when blink_reference is connected, else the official "
                    "random blinks; off: no blinks.")),
                seed_input(),
                Coeffs.Input("blink_reference", optional=True, tooltip=(
                    "Coefficients of a reference video (Extract 3DMM on its frames): the eyes follow its blinks.")),
            ],
            outputs=[output(Expression, "expression", "Expression sequence: connect to Render or Save motion.")],
        )

    @classmethod
    def execute(cls, models: SadTalkerModels, face: SourceFace, audio: dict, expression_scale: float, blink: str,
                seed: int, blink_reference: Motion | None = None) -> io.NodeOutput:
        if blink == "off" and blink_reference is not None:
            raise SettingError("blink is 'off' but blink_reference is connected: set blink to 'auto' to follow "
                               "the reference video, or disconnect it")
        mode = BlinkMode.RANDOM if blink == "auto" else BlinkMode.OFF
        features = speech(audio)
        comfy.load_on_device(models)
        expression = make_expression(models.motion.expnet, features.mel_batch(models.device), face.source_coeff, mode,
                                     seed, blink_reference, fps=features.fps)
        return io.NodeOutput(expression.scaled(expression_scale))


class PoseVAENode(io.ComfyNode):
    """Node: speech -> head pose of every video frame."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        styles = PoseVAEConfig().num_classes
        return schema(
            "SadTalkerPoseVAE", "PoseVAE: speech to head pose", "motion",
            f"PoseVAE: natural head motion for every 25 fps video frame of the speech, in one of the styles it "
            f"learned ({styles} in the official file, more in one trained with a wider style table), starting from "
            "the face's own pose.",
            inputs=[
                models_input(), face_input(), speech_input(),
                io.Int.Input("pose_style", default=0, min=0, max=MAX_POSE_STYLE, tooltip=(
                    f"One of the head-motion styles PoseVAE learned: 0..{styles - 1} with the official file; a PoseVAE "
                    "trained with a wider style table (training/) has more. Checked against the loaded model.")),
                io.Float.Input("head_motion_scale", default=1.0, min=0.0, max=3.0, step=0.05,
                               tooltip="0: no head motion; 1: as generated; >1: livelier."),
                seed_input(),
            ],
            outputs=[output(Pose, "pose", "Head pose sequence: connect to Render, a pose source or Save motion.")],
        )

    @classmethod
    def execute(cls, models: SadTalkerModels, face: SourceFace, audio: dict, pose_style: int, head_motion_scale: float,
                seed: int) -> io.NodeOutput:
        features = speech(audio)
        comfy.load_on_device(models)
        pose = make_pose(models.motion.posevae, features.mel_batch(models.device), face.source_coeff, pose_style, seed,
                         fps=features.fps)
        return io.NodeOutput(with_head_motion_scale(pose, head_motion_scale))


class StillPose(io.ComfyNode):
    """Node: the face's own head pose, held: a head that does not move."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerStillPose", "Still pose", "motion",
            "A head that keeps the source picture's pose (the official --still), in place of PoseVAE.",
            inputs=[face_input()],
            outputs=[output(Pose, "pose", "Head pose held for the whole clip.")],
        )

    @classmethod
    def execute(cls, face: SourceFace) -> io.NodeOutput:
        return io.NodeOutput(PoseSequence.still(face.source_coeff))


class PoseFromReference(io.ComfyNode):
    """Node: head motion taken from a reference video's coefficients."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerPoseFromReference", "Pose from reference video", "motion",
            "Head motion from a reference video (the official --ref_pose): the video's movement relative to its "
            "first frame, added to the face's own pose or to a connected pose (e.g. PoseVAE's). A video shorter "
            "than the speech repeats from its start.",
            inputs=[
                face_input(),
                Coeffs.Input("coefficients", tooltip="Extract 3DMM's coefficients of the reference video's frames."),
                Pose.Input("pose", optional=True,
                           tooltip="A pose to add the movement to (default: the face's own pose, held)."),
            ],
            outputs=[output(Pose, "pose", "Head pose sequence following the reference video.")],
        )

    @classmethod
    def execute(cls, face: SourceFace, coefficients: Motion, pose: PoseSequence | None = None) -> io.NodeOutput:
        base = pose if pose is not None else PoseSequence.still(face.source_coeff)
        return io.NodeOutput(with_reference_motion(base, coefficients.pose))


def _keyframes(text: str, name: str) -> tuple[float, ...] | None:
    """'0, 30, -30' -> (0.0, 30.0, -30.0); an empty text -> None (the angle is left alone)."""
    parts = [part.strip() for part in text.replace(";", ",").split(",")]
    if not any(parts):
        return None
    try:
        return tuple(float(part) for part in parts if part)
    except ValueError:
        raise SettingError(f"{name}: '{text}' is not a list of degrees; write numbers separated by commas, "
                           "e.g. 0, 30, -30, 0 (or leave it empty)") from None


class FreeView(io.ComfyNode):
    """Node: yaw / pitch / roll keyframes that replace the rendered head angles."""

    ANGLES = (("yaw", "Left / right turn"), ("pitch", "Up / down nod"), ("roll", "Sideways tilt"))

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerFreeView", "Free-view keyframes", "motion",
            "Free-view camera (the official --input_yaw / --input_pitch / --input_roll): keyframe angles in degrees, "
            "spread evenly over the clip, replace the head's yaw / pitch / roll when rendering. An empty field "
            "keeps that angle from the connected pose, so the node changes nothing until you write angles.",
            inputs=[
                Pose.Input("pose", tooltip="The pose to turn (PoseVAE, Still pose or Pose from reference)."),
                *(io.String.Input(name, default="", placeholder="e.g. 0, 30, -30, 0", tooltip=(
                    f"{what} keyframes in degrees, comma separated (e.g. 0, 30, -30, 0 turns the head one way, the "
                    "other and back); empty: the connected pose's angle.")) for name, what in cls.ANGLES),
            ],
            outputs=[output(Pose, "pose", "The pose with the keyframes: connect to Render.")],
        )

    @classmethod
    def execute(cls, pose: PoseSequence, yaw: str, pitch: str, roll: str) -> io.NodeOutput:
        keys = {name: _keyframes(text, name) for name, text in (("yaw", yaw), ("pitch", pitch), ("roll", roll))}
        return io.NodeOutput(with_free_view(pose, **keys))


FORMATS = [suffix.lstrip(".") for suffix in SUFFIXES]


class SaveMotion(io.ComfyNode):
    """Output node: expression + pose to a motion file in ComfyUI's output folder."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerSaveMotion", "Save motion", "motion",
            "Saves the expression and pose sequences to ComfyUI/output: .safetensors or .npz (with blinks and "
            "fps), or the official .mat coefficient file. Free-view keyframes are not saved.",
            inputs=[
                Expression.Input("expression", tooltip="From ExpNet (or Load motion)."),
                Pose.Input("pose", tooltip="From PoseVAE, a pose source (or Load motion)."),
                io.String.Input("filename_prefix", default="sadtalker/motion",
                                tooltip="File name start, sub-folders allowed, inside ComfyUI/output."),
                io.Combo.Input("format", options=FORMATS, default="safetensors", tooltip=(
                    "safetensors / npz: this plugin's motion file; mat: the official SadTalker coefficient file.")),
            ],
            outputs=[],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, expression: ExpressionSequence, pose: PoseSequence, filename_prefix: str,
                format: str) -> io.NodeOutput:
        if pose.free_view.is_set:
            log.warning("Save motion: the pose's free-view keyframes are not stored in motion files")
        path = comfy.save_path(filename_prefix, f".{format}")
        save_motion(combine_motion(expression, pose), path)
        return io.NodeOutput(ui={"text": [str(path.relative_to(comfy.output_dir()))]})


class LoadMotion(io.ComfyNode):
    """Node: a motion file from ComfyUI's input folder -> expression + pose (+ coefficients)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerLoadMotion", "Load motion", "motion",
            "Loads a motion saved by Save motion (.safetensors / .npz) or an official SadTalker .mat coefficient "
            "file from ComfyUI/input; the upload button puts a file of yours there.",
            inputs=[io.Combo.Input("motion_file", options=comfy.input_files(SUFFIXES), upload=io.UploadType.model,
                                   tooltip="A motion file in ComfyUI/input (.safetensors, .npz or .mat).")],
            outputs=[
                output(Expression, "expression", "Expression sequence."),
                output(Pose, "pose", "Head pose sequence."),
                output(Coeffs, "coefficients", "The same frames as coefficients, for ExpNet's blink_reference or "
                                               "Pose from reference."),
            ],
        )

    @classmethod
    def fingerprint_inputs(cls, motion_file: str) -> float:
        try:
            path = _motion_path(motion_file)
        except SadTalkerError:
            return float("nan")
        return path.stat().st_mtime if path is not None else float("nan")

    @classmethod
    def validate_inputs(cls, motion_file: str) -> bool | str:
        try:
            if _motion_path(motion_file) is not None:
                return True
        except SadTalkerError as err:
            return str(err)
        return (f"'{motion_file}' is not in ComfyUI/input; upload a {' / '.join(SUFFIXES)} file with "
                "the node's button or copy it there")

    @classmethod
    def execute(cls, motion_file: str) -> io.NodeOutput:
        path = _motion_path(motion_file)
        if path is None:
            raise MotionFileError(f"motion_file '{motion_file}' is not in ComfyUI/input ({comfy.input_dir()}); "
                                  "upload it with the node's button or copy it there")
        motion = load_motion(path)
        return io.NodeOutput(*split_motion(motion), motion)


def _motion_path(motion_file: str) -> Path | None:
    """The motion file in ComfyUI's input folder (None when it is not there); a name leading outside it is
    a :class:`SettingError`."""
    return comfy.file_within(motion_file, [comfy.input_dir()])


NODES = [ExpNetNode, PoseVAENode, StillPose, PoseFromReference, FreeView, SaveMotion, LoadMotion]
