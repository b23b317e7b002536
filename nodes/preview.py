"""Preview motion: a motion drawn as a chart (head angles, mouth, blinks over time), to compare pose
sources before a render.  The drawing is the core's (``sadtalker_core.motion.plot``)."""
from __future__ import annotations

from comfy_api.latest import io

from ..sadtalker_core.errors import InputError
from ..sadtalker_core.motion import ExpressionSequence, Motion, PoseSequence, split_motion
from ..sadtalker_core.motion.plot import MIN_SIZE, draw_motion, motion_curves
from ..sadtalker_core.motion.sequences import EXP_DIM
from ..sadtalker_core.source import SourceFace
from . import comfy
from .convert import to_image
from .types import Coeffs, Expression, Face, Pose, output, schema

MOUTH_NOTE = ("Mouth opening is a proxy: the distance of each frame's 64 expression coefficients from the face at "
              "rest (the connected face's own expression, else the first frame); the official expression basis has "
              "no coefficient that is the mouth alone. ExpNet moves the lips (and the eyes when blinking), so for its "
              "output the curve follows the mouth.")


class PreviewMotion(io.ComfyNode):
    """Output node: the chart of a pose and / or expression sequence, shown on the node and given as IMAGE."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerPreviewMotion", "Preview motion", "motion",
            "Draws a motion over time in seconds: head yaw / pitch / roll in degrees (free-view keyframes dashed), "
            "mouth opening and blinks. Put one after each pose source you are choosing between (PoseVAE styles, "
            "a reference video, free-view keyframes, still) to see the difference before a render. " + MOUTH_NOTE,
            inputs=[
                io.String.Input("label", default="", tooltip="A title for the chart, e.g. the pose style drawn."),
                io.Int.Input("width", default=960, min=MIN_SIZE[0], max=3840, step=16, tooltip="Chart width in px."),
                io.Int.Input("height", default=540, min=MIN_SIZE[1], max=2160, step=16, tooltip="Chart height in px."),
                Pose.Input("pose", optional=True, tooltip="A head pose sequence (PoseVAE, a pose source, Load motion)."),
                Expression.Input("expression", optional=True, tooltip=(
                    "ExpNet's expression (or Load motion's): draws the mouth and blinks and sets the clip's length.")),
                Coeffs.Input("coefficients", optional=True, tooltip=(
                    "Or coefficients of a video (Extract 3DMM on its frames) or of Load motion, in place of pose and "
                    "expression: what a reference video would drive.")),
                Face.Input("face", optional=True, tooltip=(
                    "Optional, from Extract 3DMM: its expression is the mouth's rest (else the first frame).")),
            ],
            outputs=[output(io.Image, "chart", "The chart as an IMAGE (one picture), e.g. for Save Image.")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, label: str, width: int, height: int, pose: PoseSequence | None = None,
                expression: ExpressionSequence | None = None, coefficients: Motion | None = None,
                face: SourceFace | None = None) -> io.NodeOutput:
        if coefficients is not None:
            if pose is not None or expression is not None:
                raise InputError("coefficients: connect either coefficients or pose / expression, not both")
            expression, pose = split_motion(coefficients)
        if pose is None and expression is None:
            raise InputError("pose, expression, coefficients: nothing to draw; connect at least one of them")
        rest = None if face is None else face.source_coeff[0, :EXP_DIM]
        chart = draw_motion(motion_curves(expression, pose, rest), width, height, label.strip())
        return io.NodeOutput(to_image(chart[None]), ui=comfy.preview_ui(chart, "sadtalker_motion"))


NODES = [PreviewMotion]
