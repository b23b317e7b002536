"""Fixtures of the command-line tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from paths import CORE_FILES

from sadtalker_core.io.video_reader import iter_frames
from sadtalker_core.io.video_writer import VideoWriter


@pytest.fixture(scope="module")
def checkpoints(weights_dir, tmp_path_factory) -> Path:
    """The core model files without the RetinaFace / FAN files (fake detector weights find no
    face), so that dlib finds the faces."""
    folder = tmp_path_factory.mktemp("checkpoints")
    for name in CORE_FILES:
        (folder / name).symlink_to(weights_dir / name)
    return folder


@pytest.fixture(scope="module")
def talking_video(media_dir, tmp_path_factory) -> Path:
    """The first 4 frames of the talking test video (512 x 512, 25 fps): a dub that costs little."""
    path = tmp_path_factory.mktemp("talk") / "talk.mp4"
    frames = iter_frames(media_dir / "WDA_AlexandriaOcasioCortez_000.mp4")
    with VideoWriter(path, fps=25) as writer:
        writer.write(np.stack([next(frames) for _ in range(4)]))
    frames.close()
    return path
