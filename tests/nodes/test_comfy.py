"""The ComfyUI services the nodes use, against stand-ins that behave as ComfyUI 0.3.64's modules do."""
from __future__ import annotations

import os
import re
import types

import pytest
from comfyui_sadtalker.nodes import comfy
from comfyui_sadtalker.sadtalker_core.errors import SettingError
from comfyui_sadtalker.sadtalker_core.official_files import MODEL_SUFFIXES


def _folder_paths(models_dir: str) -> types.SimpleNamespace:
    """``folder_paths`` as ComfyUI has it: kinds -> (folders, suffix set); adding a folder to an unknown
    kind creates it with no suffixes."""
    registry: dict[str, tuple[list[str], set[str]]] = {"checkpoints": ([os.path.join(models_dir, "checkpoints")],
                                                                       {".safetensors"})}

    def add_model_folder_path(kind: str, path: str, is_default: bool = False) -> None:
        paths, suffixes = registry.setdefault(kind, ([], set()))
        if path not in paths:
            paths.append(path)

    return types.SimpleNamespace(models_dir=models_dir, folder_names_and_paths=registry,
                                 add_model_folder_path=add_model_folder_path)


def test_model_folders_are_registered_with_every_model_suffix(monkeypatch, tmp_path):
    fake = _folder_paths(str(tmp_path))
    fake.folder_names_and_paths["facerestore_models"] = ([str(tmp_path / "elsewhere")], {".pth"})  # a user's yaml
    monkeypatch.setattr(comfy, "folder_paths", fake)
    comfy.register_model_folders()
    for kind in (comfy.SADTALKER, comfy.FACE_RESTORE, comfy.FACE_DETECTION):
        paths, suffixes = fake.folder_names_and_paths[kind]
        assert os.path.join(str(tmp_path), kind) in paths
        assert isinstance(suffixes, set) and set(MODEL_SUFFIXES) <= suffixes
    assert str(tmp_path / "elsewhere") in fake.folder_names_and_paths["facerestore_models"][0]


def test_a_file_inside_its_folder_is_found_by_a_relative_or_absolute_name(tmp_path):
    folder = tmp_path / "input"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "motion.npz").write_bytes(b"x")
    found = folder.resolve() / "sub" / "motion.npz"
    assert comfy.file_within("sub/motion.npz", [folder]) == found
    assert comfy.file_within("sub/../sub/motion.npz", [folder]) == found
    assert comfy.file_within(str(folder / "sub" / "motion.npz"), [folder]) == found
    assert comfy.file_within("absent.npz", [folder]) is None
    assert comfy.file_within("sub", [folder]) is None  # a folder is not a file


@pytest.mark.parametrize("name", ["../output/x.safetensors", "../../input/x.pth", "sub/../../output/x.safetensors"])
def test_a_name_climbing_out_of_its_folder_is_refused(tmp_path, name):
    folder = tmp_path / "a" / "input"
    (folder / "sub").mkdir(parents=True)
    for outside in (tmp_path / "a" / "output" / "x.safetensors", tmp_path / "input" / "x.pth"):
        outside.parent.mkdir(parents=True, exist_ok=True)
        outside.write_bytes(b"x")
    with pytest.raises(SettingError, match=f"'{re.escape(name)}' leads outside {re.escape(str(folder))}"):
        comfy.file_within(name, [folder])


def test_an_absolute_name_or_a_link_outside_every_folder_is_refused(tmp_path):
    folders = [tmp_path / "models", tmp_path / "extra_models"]
    for folder in folders:
        folder.mkdir()
    secret = tmp_path / "secret.pth"
    secret.write_bytes(b"x")
    (folders[0] / "link.pth").symlink_to(secret)
    for name in (str(secret), "link.pth"):
        with pytest.raises(SettingError, match=f"leads outside {re.escape(str(folders[0]))} or "):
            comfy.file_within(name, folders)


def test_a_file_in_the_second_folder_is_found(tmp_path):
    folders = [tmp_path / "models", tmp_path / "extra_models"]
    for folder in folders:
        folder.mkdir()
    (folders[1] / "GFPGANv1.4.pth").write_bytes(b"x")
    assert comfy.file_within(str(folders[1] / "GFPGANv1.4.pth"), folders) == folders[1].resolve() / "GFPGANv1.4.pth"
