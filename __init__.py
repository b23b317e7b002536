"""ComfyUI-SadTalker: ComfyUI imports this folder as a package and calls ``comfy_entrypoint``
(ComfyUI >= 0.3.64), which lists the nodes; ``web/`` holds the front end's small additions.

The nodes reach the core library by relative imports (``from ..sadtalker_core ...``), so the
plugin adds nothing to ``sys.path`` and none of its folders becomes a global module name.
"""
if __package__:  # imported as a package, as ComfyUI does (pytest also imports this file on its own)
    from .nodes import comfy_entrypoint

    WEB_DIRECTORY = "./web"
    __all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
