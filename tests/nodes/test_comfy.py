"""The ComfyUI services the nodes use, against stand-ins that behave as ComfyUI 0.3.64's modules do."""
from __future__ import annotations

import os
import types

from comfyui_sadtalker.nodes import comfy
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
