"""The ComfyUI node set: loader -> Extract 3DMM -> ExpNet / PoseVAE (or pose sources) -> Render ->
Face enhance / Paste back, plus motion files.  Each module declares its nodes in ``NODES``
(class name -> (node class, display name)); they are gathered here for ComfyUI."""
from __future__ import annotations

from . import comfy, face, models, motion, post, render

comfy.register_model_folders()

_NODES = {**models.NODES, **face.NODES, **motion.NODES, **render.NODES, **post.NODES}

NODE_CLASS_MAPPINGS = {name: node for name, (node, _) in _NODES.items()}
NODE_DISPLAY_NAME_MAPPINGS = {name: title for name, (_, title) in _NODES.items()}
