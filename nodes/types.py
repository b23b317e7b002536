"""The custom socket types of the node set, in one place, and the values that travel on them.

=====================  ==============================================================
socket                 value
=====================  ==============================================================
SADTALKER_MODELS       :class:`ModelBundle`: every network, loaded once, + face detector
SADTALKER_FACE         :class:`~sadtalker_core.source.face.SourceFace`: crop, crop info, 73-d coefficients
SADTALKER_COEFFS       :class:`~sadtalker_core.motion.sequences.Motion`: 3DMM of each frame of a picture
                       sequence (a reference video), for blinks or head pose
SADTALKER_EXPRESSION   :class:`~sadtalker_core.motion.sequences.ExpressionSequence` (ExpNet)
SADTALKER_POSE         :class:`~sadtalker_core.motion.sequences.PoseSequence` (PoseVAE or a pose source)
SADTALKER_ENHANCER     :class:`~sadtalker_core.post.enhance.FaceEnhancer` (GFPGAN / RestoreFormer / CodeFormer)
=====================  ==============================================================
"""
from __future__ import annotations

from dataclasses import dataclass

from ..sadtalker_core.models import SadTalkerModels
from ..sadtalker_core.source.landmarks import LandmarkDetector

MODELS = "SADTALKER_MODELS"
FACE = "SADTALKER_FACE"
COEFFS = "SADTALKER_COEFFS"
EXPRESSION = "SADTALKER_EXPRESSION"
POSE = "SADTALKER_POSE"
ENHANCER = "SADTALKER_ENHANCER"

CATEGORY = "SadTalker"


@dataclass(frozen=True, eq=False)
class ModelBundle:
    """What the loader hands on: the SadTalker networks and the face detector chosen with them."""

    models: SadTalkerModels
    detector: LandmarkDetector
    detector_name: str  # "retinaface" (the official RetinaFace + FAN files) or "dlib"
