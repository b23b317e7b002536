"""Real-ESRGAN 0.3.0's own ``RealESRGANer`` (``realesrgan/utils.py``), the reference the background
upsampler is compared with.

The package is installed without its dependencies (``requirements-reference.txt``): its ``__init__``
imports basicsr's training code, which is not installed.  So ``realesrgan/utils.py`` is loaded on
its own, with the one basicsr name it imports at the top (``load_file_from_url``, used only for
``https://`` model paths, never here) given as a function that refuses to run.
"""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

_DOWNLOAD_MODULE = "basicsr.utils.download_util"


def _no_download(*args, **kwargs):
    raise RuntimeError("the tests give RealESRGANer local files only")


def realesrgan_utils() -> types.ModuleType:
    """``realesrgan.utils`` of the installed package, loaded without the package's ``__init__``."""
    spec = importlib.util.find_spec("realesrgan")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("realesrgan is a test requirement: pip install --no-deps -r requirements-reference.txt")
    source = Path(next(iter(spec.submodule_search_locations))) / "utils.py"
    stub = types.ModuleType(_DOWNLOAD_MODULE)
    stub.load_file_from_url = _no_download
    saved = {name: sys.modules.get(name) for name in ("basicsr", "basicsr.utils", _DOWNLOAD_MODULE)}
    sys.modules.update({"basicsr": types.ModuleType("basicsr"), "basicsr.utils": types.ModuleType("basicsr.utils"),
                        _DOWNLOAD_MODULE: stub})
    try:
        module = importlib.util.module_from_spec(importlib.util.spec_from_file_location("realesrgan_utils", source))
        module.__spec__.loader.exec_module(module)
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return module
