"""The plugin folder imported the way ComfyUI imports a custom node: as one package (here named
``comfyui_sadtalker``) whose ``nodes`` reach the core by relative imports, so nothing of the
plugin becomes a global module name.  Without ComfyUI, the nodes' schema module
(``comfy_api.latest``) is the stand-in of :mod:`comfy_api_standin`.  Used by the node tests and
by :mod:`node_info`, which writes what the workflow builder reads of our nodes."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import comfy_api_standin

NAME = "comfyui_sadtalker"
ROOT = Path(__file__).resolve().parents[1]


def load() -> ModuleType:
    """The plugin package (imported once; its node modules are ``comfyui_sadtalker.nodes.*``)."""
    if NAME not in sys.modules:
        comfy_api_standin.install()
        spec = importlib.util.spec_from_file_location(NAME, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[NAME] = package
        try:
            spec.loader.exec_module(package)
        except BaseException:
            del sys.modules[NAME]
            raise
    return sys.modules[NAME]
