"""The one face-detector factory: which landmark detector a choice and the files present give.

* ``retinaface``: the official RetinaFace + AWing-FAN networks (the files the official code
  downloads, :data:`~sadtalker_core.official_files.DETECTOR_FILES`), as SadTalker detects faces;
* ``dlib``: dlib's HOG detector and 68-point predictor, no download needed;
* ``auto``: retinaface when its files are there, else dlib.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from enum import Enum
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..official_files import DETECTOR_FILES
from .landmarks import LandmarkDetector


class DetectorChoice(str, Enum):
    AUTO = "auto"
    RETINAFACE = "retinaface"
    DLIB = "dlib"


def find_detector_files(folders: Sequence[str | os.PathLike]) -> tuple[Path, Path] | None:
    """Each of :data:`DETECTOR_FILES` from the first of ``folders`` holding it; None unless both are found."""
    found = [next((Path(f) / name for f in folders if (Path(f) / name).is_file()), None) for name in DETECTOR_FILES]
    return None if None in found else (found[0], found[1])


def load_detector(choice: DetectorChoice | str, folders: Sequence[str | os.PathLike],
                  device: torch.device | str = "cpu") -> LandmarkDetector:
    """The detector ``choice`` asks for, its official files looked up in ``folders``; ``retinaface``
    without both files is a :class:`~sadtalker_core.errors.CheckpointError` naming them and the folders."""
    choice = DetectorChoice(choice)
    files = None if choice is DetectorChoice.DLIB else find_detector_files(folders)
    if files is not None:
        from .official_detector import OfficialDetector

        return OfficialDetector.from_files(*files, device=device)
    if choice is DetectorChoice.RETINAFACE:
        raise CheckpointError(
            f"face detector 'retinaface' needs {' and '.join(DETECTOR_FILES)} in "
            f"{' or '.join(str(f) for f in folders)}; download them (python -m sadtalker_core download FOLDER "
            f"--only {' '.join(DETECTOR_FILES)}) or use the dlib detector (no download)")
    from .dlib_detector import DlibDetector

    return DlibDetector()
