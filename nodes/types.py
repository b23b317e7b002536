"""The node set's socket types, the inputs several nodes share, and one way to declare a node.

=====================  ==============================================================
socket                 value
=====================  ==============================================================
SADTALKER_MODELS       :class:`~sadtalker_core.models.SadTalkerModels`: every network, loaded once, + face detector
SADTALKER_FACE         :class:`~sadtalker_core.source.face.SourceFace`: crop, crop info, 73-d coefficients
SADTALKER_COEFFS       :class:`~sadtalker_core.motion.sequences.Motion`: 3DMM of each frame of a picture
                       sequence (a reference video), for blinks or head pose
SADTALKER_EXPRESSION   :class:`~sadtalker_core.motion.sequences.ExpressionSequence` (ExpNet)
SADTALKER_POSE         :class:`~sadtalker_core.motion.sequences.PoseSequence` (PoseVAE or a pose source)
SADTALKER_ENHANCER     :class:`~sadtalker_core.post.enhance.FaceEnhancer` (GFPGAN / RestoreFormer / CodeFormer)
=====================  ==============================================================

Nodes are declared with ComfyUI's schema (``comfy_api.latest``): :func:`schema` gives each its
place in the ``SadTalker/...`` menu, the functions below the inputs more than one node has.
"""
from __future__ import annotations

from comfy_api.latest import io

from ..sadtalker_core.precision import Precision

Models = io.Custom("SADTALKER_MODELS")
Face = io.Custom("SADTALKER_FACE")
Coeffs = io.Custom("SADTALKER_COEFFS")
Expression = io.Custom("SADTALKER_EXPRESSION")
Pose = io.Custom("SADTALKER_POSE")
Enhancer = io.Custom("SADTALKER_ENHANCER")

CATEGORY = "SadTalker"
#: the sub-menus of ``SadTalker``, in the order the stages run
GROUPS = ("loaders", "source", "motion", "render", "post")

EVEN_SIZE_NOTE = ("Sides are even, as video encoders need: an odd side is padded by repeating its last row / "
                  "column once (nothing is cut or stretched).")


def schema(node_id: str, display_name: str, group: str, description: str, inputs: list[io.Input],
           outputs: list[io.Output], **flags: bool) -> io.Schema:
    """A node's declaration, in the ``SadTalker/<group>`` menu."""
    if group not in GROUPS:
        raise ValueError(f"{node_id}: group '{group}' is not one of {GROUPS}")
    return io.Schema(node_id=node_id, display_name=display_name, category=f"{CATEGORY}/{group}",
                     description=description, inputs=inputs, outputs=outputs, **flags)


def output(kind: type, name: str, tooltip: str) -> io.Output:
    """An output the front end calls ``name`` (ComfyUI gives it an id of its own: an input may have
    the same name)."""
    return kind.Output(display_name=name, tooltip=tooltip)


def models_input() -> io.Input:
    return Models.Input("models", tooltip="From Load SadTalker models.")


def face_input(tooltip: str = "From Extract 3DMM: the face to animate.") -> io.Input:
    return Face.Input("face", tooltip=tooltip)


def speech_input() -> io.Input:
    return io.Audio.Input("audio", tooltip="The driving speech (any sample rate; channels are mixed).")


def seed_input() -> io.Input:
    return io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                        tooltip="Seed of the random draws: the same seed gives the same motion.")


def device_input() -> io.Input:
    return io.Combo.Input("device", options=["auto", "cpu"], default="auto",
                          tooltip="auto: ComfyUI's device (the GPU when there is one); cpu: always the CPU.")


def precision_input(tooltip: str) -> io.Input:
    return io.Combo.Input("precision", options=Precision, default=Precision.AUTO, tooltip=tooltip)


def frames_input(tooltip: str) -> io.Input:
    return io.Image.Input("frames", tooltip=tooltip)

