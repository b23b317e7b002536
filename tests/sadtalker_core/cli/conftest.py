"""Fixtures of the command-line tests."""
from __future__ import annotations

from pathlib import Path

import pytest
from paths import CORE_FILES
from talking_video import talking_video_file


@pytest.fixture(scope="module")
def checkpoints(weights_dir, tmp_path_factory) -> Path:
    """The core model files without the RetinaFace / FAN files (fake detector weights find no
    face), so that dlib finds the faces."""
    folder = tmp_path_factory.mktemp("checkpoints")
    for name in CORE_FILES:
        (folder / name).symlink_to(weights_dir / name)
    return folder


@pytest.fixture(scope="module")
def talking_video(tmp_path_factory) -> Path:
    """A 4-frame talking video, 384 x 320 at 25 fps (:mod:`talking_video`): a dub that costs little."""
    return talking_video_file(tmp_path_factory.mktemp("talk") / "talk.mp4", 4)
