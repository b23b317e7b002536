"""A user mistake at a node's inputs is a ``SadTalkerError`` (ComfyUI shows its message; anything else
is a bug): a value that is not an IMAGE or a single AUDIO clip, a model file that is not in its
folder, a save prefix leaving the output folder, a download choice that does not exist."""
from __future__ import annotations

import pytest
import torch
from comfyui_sadtalker.nodes import comfy, convert, download
from comfyui_sadtalker.sadtalker_core.errors import CheckpointError, InputError, SadTalkerError, SettingError


@pytest.mark.parametrize("value", [torch.zeros(8, 8, 3), torch.zeros(1, 8, 8, 2), "a picture"])
def test_a_value_that_is_not_an_image_batch_names_the_input(value):
    with pytest.raises(InputError, match="frames: expected an IMAGE batch"):
        convert.check_image(value, "frames")


def test_audio_that_is_not_one_clip_names_the_input():
    with pytest.raises(InputError, match="speech: expected an AUDIO value"):
        convert.speech({"waveform": torch.zeros(1, 1, 16000)}, "speech")
    with pytest.raises(InputError, match=r"speech: expected one clip, a waveform \[1, channels, samples\]"):
        convert.speech({"waveform": torch.zeros(2, 1, 16000), "sample_rate": 16000}, "speech")


def test_a_model_missing_from_its_folder_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SADTALKER_COMFY_ROOT", str(tmp_path))
    with pytest.raises(CheckpointError, match=f"GFPGANv1.4.pth is not in the {comfy.FACE_RESTORE} model folder"):
        comfy.model_path(comfy.FACE_RESTORE, "GFPGANv1.4.pth")


def test_a_save_prefix_may_not_leave_the_output_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SADTALKER_COMFY_ROOT", str(tmp_path))
    assert comfy.save_path("sadtalker/motion", ".npz").parent == (tmp_path / "output" / "sadtalker").resolve()
    with pytest.raises(SettingError, match="points outside the output folder"):
        comfy.save_path("../elsewhere/motion", ".npz")


def test_a_download_choice_that_does_not_exist_is_refused():
    with pytest.raises(SettingError, match="size must be one of"):
        download.plan("128", face_detector=False, face_enhancer="none")
    with pytest.raises(SadTalkerError, match="face_enhancer one of"):
        download.plan("256", face_detector=False, face_enhancer="GFPGANv9.pth")


@pytest.fixture()
def files_outside(tmp_path, monkeypatch) -> dict[str, str]:
    """A stand-in ComfyUI root with a file in output/ and one beside the root, and the names that reach
    them from the input folder and from models/facerestore_models: relative with ``..``, and absolute."""
    root = tmp_path / "comfy"
    for folder in ("input", "output", "models/facerestore_models"):
        (root / folder).mkdir(parents=True)
    (root / "output" / "x.safetensors").write_bytes(b"not a motion")
    (tmp_path / "x.pth").write_bytes(b"not a model")
    monkeypatch.setenv("SADTALKER_COMFY_ROOT", str(root))
    return {"motion": "../output/x.safetensors", "enhancer": "../../../x.pth",
            "motion_absolute": str(root / "output" / "x.safetensors"), "enhancer_absolute": str(tmp_path / "x.pth")}


@pytest.mark.parametrize("which", ["motion", "motion_absolute"])
def test_load_motion_refuses_a_file_outside_the_input_folder(files_outside, which):
    from comfyui_sadtalker.nodes.motion import LoadMotion

    name = files_outside[which]
    assert LoadMotion.validate_inputs(motion_file=name).startswith(f"'{name}' leads outside ")
    with pytest.raises(SettingError, match="only files in that folder can be loaded"):
        LoadMotion.execute(motion_file=name)


@pytest.mark.parametrize("which", ["enhancer", "enhancer_absolute"])
def test_load_face_enhancer_refuses_a_file_outside_its_model_folder(files_outside, which):
    from comfyui_sadtalker.nodes.models import LoadFaceEnhancer

    name = files_outside[which]
    assert LoadFaceEnhancer.validate_inputs(model_name=name).startswith(f"'{name}' leads outside ")
    with pytest.raises(SettingError, match="only files in that folder can be loaded"):
        LoadFaceEnhancer.execute(model_name=name, device="cpu", precision="exact")


def test_load_motion_names_a_missing_file(files_outside):
    from comfyui_sadtalker.nodes.motion import LoadMotion

    assert "is not in ComfyUI/input" in LoadMotion.validate_inputs(motion_file="absent.npz")
    with pytest.raises(InputError, match="motion_file 'absent.npz' is not in ComfyUI/input"):
        LoadMotion.execute(motion_file="absent.npz")
