"""Where the tests find ``../shared`` (or ``$SADTALKER_SHARED``) and what they take from it."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SADTALKER_SHARED", REPO.parent / "shared")).resolve()
GOLDENS = SHARED / "reference" / "goldens"
MEDIA = SHARED / "media"
MANIFESTS = SHARED / "reference" / "manifests"

#: official files the core needs (the 512 bundle has exactly the 256 bundle's fake bytes).
CORE_CHECKPOINTS = (
    "SadTalker_V0.0.2_256.safetensors",
    "mapping_00229-model.pth.tar",
    "mapping_00109-model.pth.tar",
    "facevid2vid_00189-model.pth.tar",
    "auido2exp_00300-model.pth",
    "auido2pose_00140-model.pth",
    "epoch_20.pth",
)
