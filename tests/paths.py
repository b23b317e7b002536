"""Where the tests find the repository's own test data (``tests/data``, described in its README)."""
from __future__ import annotations

from pathlib import Path

from conformance.fake_weights import CORE_FILES, MANIFESTS  # noqa: F401 - they live with their writer

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
GOLDENS = DATA / "goldens"
MEDIA = DATA / "media"
LM3D_MAT = DATA / "similarity_Lm3D_all.mat"
OBJECT_INFO_CORE = DATA / "comfyui" / "object_info_core.json"
