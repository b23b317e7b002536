"""The ComfyUI node set: loaders (and the model download) -> Extract 3DMM -> ExpNet / PoseVAE (or pose
sources) -> Render -> Face enhance / Paste back, plus motion files and the motion chart.  Each module
lists its nodes in ``NODES``; ComfyUI gets them all from :func:`comfy_entrypoint` (its
``comfy_api.latest`` extension interface)."""
from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from . import comfy, download, face, models, motion, post, preview, render

NODES: list[type[io.ComfyNode]] = [
    *models.NODES, *download.NODES, *face.NODES, *motion.NODES, *preview.NODES, *render.NODES, *post.NODES,
]


class SadTalkerExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        """The nodes; ComfyUI asks once, at start-up, so the model folders are registered here too, and
        the example inputs put into the input folder (when not there yet)."""
        comfy.register_model_folders()
        comfy.install_example_inputs()
        return list(NODES)


async def comfy_entrypoint() -> SadTalkerExtension:
    """What ComfyUI (>= 0.3.64) calls to load the plugin."""
    return SadTalkerExtension()
