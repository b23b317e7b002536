"""The one face-detector factory: ``auto`` takes the official RetinaFace + FAN files where both are
found, else dlib's detector; ``retinaface`` without them is an error naming the files and the folders
searched, and the model loader raises it before loading any network."""
from __future__ import annotations

import pytest

from sadtalker_core.errors import CheckpointError
from sadtalker_core.models import load_models
from sadtalker_core.official_files import DETECTOR_FILES
from sadtalker_core.source import find_detector_files, load_detector
from sadtalker_core.source.dlib_detector import DlibDetector
from sadtalker_core.source.official_detector import OfficialDetector


@pytest.fixture(scope="module")
def official(fake_checkpoints):
    """A folder holding the official detector's (fake) files."""
    for name in DETECTOR_FILES:
        fake_checkpoints.path(name)
    return fake_checkpoints.folder


def test_each_file_is_taken_from_the_first_folder_holding_it_and_both_are_needed(tmp_path, official):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / DETECTOR_FILES[1]).symlink_to(official / DETECTOR_FILES[1])
    assert find_detector_files([first]) is None
    assert find_detector_files([first, official]) == (official / DETECTOR_FILES[0], first / DETECTOR_FILES[1])
    assert find_detector_files([second, first]) is None


def test_auto_takes_the_official_files_when_there_else_dlib(tmp_path, official):
    assert isinstance(load_detector("auto", [tmp_path, official]), OfficialDetector)
    assert isinstance(load_detector("auto", [tmp_path]), DlibDetector)
    assert isinstance(load_detector("dlib", [official]), DlibDetector)
    assert isinstance(load_detector("retinaface", [official]), OfficialDetector)


def test_retinaface_without_its_files_names_them_and_the_folders(tmp_path):
    with pytest.raises(CheckpointError, match=rf"'retinaface' needs {DETECTOR_FILES[0]} and {DETECTOR_FILES[1]} in "
                                              rf"{tmp_path / 'a'} or {tmp_path / 'b'}; download them"):
        load_detector("retinaface", [tmp_path / "a", tmp_path / "b"])


def test_the_model_loader_checks_the_detector_before_loading_the_networks(tmp_path):
    (tmp_path / "SadTalker_V0.0.2_256.safetensors").write_bytes(b"not a checkpoint: never read")
    (tmp_path / "mapping_00229-model.pth.tar").write_bytes(b"")
    with pytest.raises(CheckpointError, match="'retinaface' needs"):
        load_models(tmp_path, 256, "cpu", detector="retinaface")
