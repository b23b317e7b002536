"""ComfyUI-SadTalker: ComfyUI loads this folder as a package and reads the node mappings below.

The core library ``sadtalker_core`` sits beside ``nodes/`` and is imported by its own name, so
this folder is put on ``sys.path`` first (ComfyUI imports custom nodes by file path only).
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.append(_HERE)

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS  # noqa: E402

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
