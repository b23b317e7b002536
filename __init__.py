"""ComfyUI-SadTalker: ComfyUI imports this folder as a package and reads the node mappings below.

The nodes reach the core library by relative imports (``from ..sadtalker_core ...``), so the
plugin adds nothing to ``sys.path`` and none of its folders becomes a global module name.
"""
if __package__:  # imported as a package, as ComfyUI does (pytest also imports this file on its own)
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

    __all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
