"""Download SadTalker models: the official files fetched into ComfyUI's model folders when the node
runs (never before), with ComfyUI's progress bar, the command line's sha256 checks and resume, and
the loader's error naming the folder and this node when files are missing.  Against a local HTTP
server (127.0.0.1) serving small stand-in files, as a mirror ($SADTALKER_MODEL_MIRROR)."""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from comfyui_sadtalker.nodes import comfy
from comfyui_sadtalker.nodes.download import DownloadModels
from comfyui_sadtalker.nodes.models import LoadSadTalkerModels
from comfyui_sadtalker.sadtalker_core.errors import CheckpointError, DownloadError
from comfyui_sadtalker.sadtalker_core.io.download import MIRROR_ENV, record_path
from comfyui_sadtalker.sadtalker_core.official_files import OFFICIAL_FILES

#: the files of size 256 + detector + GFPGAN, and where each must land
EXPECTED = {
    "SadTalker_V0.0.2_256.safetensors": "sadtalker",
    "mapping_00229-model.pth.tar": "sadtalker",
    "mapping_00109-model.pth.tar": "sadtalker",
    "detection_Resnet50_Final.pth": "facedetection",
    "alignment_WFLW_4HG.pth": "facedetection",
    "GFPGANv1.4.pth": "facerestore_models",
}
CHOICES = {"size": "256", "face_detector": True, "face_enhancer": "GFPGANv1.4.pth"}
SADTALKER_NAMES = [name for name, kind in EXPECTED.items() if kind == "sadtalker"]


def content(name: str) -> bytes:
    """A small stand-in for the official file ``name`` (three 1 MiB chunks and a bit)."""
    return name.encode() * (3 * (1 << 20) // len(name) + 1)


def overrides(names) -> str:
    """The sha256 input: the stand-ins' hashes (the real ones differ, as would a changed release)."""
    return "\n".join(f"{name}={hashlib.sha256(content(name)).hexdigest()}" for name in names)


@pytest.fixture()
def fresh_comfy(tmp_path, monkeypatch, server) -> Path:
    """An empty ComfyUI folder, and the local server as the mirror holding the stand-ins."""
    monkeypatch.setenv("SADTALKER_COMFY_ROOT", str(tmp_path))
    monkeypatch.setenv(MIRROR_ENV, server.base)
    server.files.update({name: content(name) for name in EXPECTED})
    return tmp_path


def run(**inputs):
    return DownloadModels.execute(**inputs)


def test_missing_models_are_refused_with_the_folder_and_the_fix_and_nothing_is_fetched(fresh_comfy, server):
    folder = fresh_comfy / "models" / "sadtalker"
    with pytest.raises(CheckpointError) as refused:
        LoadSadTalkerModels.execute(size="512", device="cpu", precision="auto", face_detector="dlib")
    message = str(refused.value)
    assert f"not in ComfyUI/models/sadtalker ({folder})" in message
    assert "missing SadTalker_V0.0.2_512.safetensors, mapping_00229-model.pth.tar, mapping_00109-model.pth.tar" in message
    assert "'Download SadTalker models'" in message and "set its size to 512" in message
    assert f"python -m sadtalker_core download {folder}" in message
    DownloadModels.GET_NODE_INFO_V1()
    DownloadModels.fingerprint_inputs(**CHOICES)
    assert server.requests == []  # declaring, listing or validating the node downloads nothing


def test_the_chosen_files_land_in_the_folders_the_loaders_read_with_progress(fresh_comfy, server, progress):
    result = run(sha256=overrides(EXPECTED), **CHOICES)
    for name, kind in EXPECTED.items():
        path = fresh_comfy / "models" / kind / name
        assert path.read_bytes() == content(name)
        assert result.ui["text"].count(f"downloaded: {path}") == 1
    assert sorted(name for name, _ in server.requests) == sorted(EXPECTED)
    assert not list(fresh_comfy.rglob("*.part"))
    # the progress bar: one stretch of 1000 steps per file, never going back, ending full
    totals = {total for _, total in progress}
    assert totals == {6000}
    done = [value for value, _ in progress]
    assert done == sorted(done) and done[-1] == 6000 and len(set(done)) > 12
    # the loader now finds them (dlib: the stand-ins are no real checkpoints, finding is what is checked)
    assert comfy.model_folders(comfy.SADTALKER)[0] == fresh_comfy / "models" / "sadtalker"
    from comfyui_sadtalker.nodes.models import _detector_folders, _model_folder
    from comfyui_sadtalker.sadtalker_core.source import find_detector_files

    assert _model_folder(256) == fresh_comfy / "models" / "sadtalker"
    assert find_detector_files(_detector_folders()) == tuple(
        fresh_comfy / "models" / "facedetection" / name for name in ("detection_Resnet50_Final.pth", "alignment_WFLW_4HG.pth"))


def test_a_second_run_checks_the_files_and_fetches_nothing(fresh_comfy, server):
    run(sha256=overrides(EXPECTED), **CHOICES)
    before = DownloadModels.fingerprint_inputs(**CHOICES)
    requests = len(server.requests)
    result = run(sha256=overrides(EXPECTED), **CHOICES)
    assert len(server.requests) == requests
    assert all(line.startswith("present: ") for line in result.ui["text"])
    assert DownloadModels.fingerprint_inputs(**CHOICES) == before
    (fresh_comfy / "models" / "sadtalker" / "mapping_00109-model.pth.tar").unlink()
    assert DownloadModels.fingerprint_inputs(**CHOICES) != before  # ComfyUI runs the node again


def test_an_interrupted_download_resumes_on_the_next_run(fresh_comfy, server):
    name = "SadTalker_V0.0.2_256.safetensors"
    server.cut_next.add(name)
    with pytest.raises(DownloadError, match="run again to resume"):
        run(sha256=overrides(SADTALKER_NAMES), size="256", face_detector=False, face_enhancer="none")
    partial = fresh_comfy / "models" / "sadtalker" / f"{name}.part"
    half = partial.stat().st_size
    assert 0 < half < len(content(name))

    result = run(sha256=overrides(SADTALKER_NAMES), size="256", face_detector=False, face_enhancer="none")
    assert (name, f"bytes={half}-") in server.requests
    assert f"resumed: {fresh_comfy / 'models' / 'sadtalker' / name}" in result.ui["text"]
    assert (fresh_comfy / "models" / "sadtalker" / name).read_bytes() == content(name)


def test_cancel_stops_the_download_and_keeps_what_arrived(fresh_comfy, server, monkeypatch):
    class Interrupted(Exception):
        pass

    def cancel() -> None:
        raise Interrupted

    monkeypatch.setattr(comfy, "check_interrupted", cancel)
    with pytest.raises(Interrupted):
        run(sha256=overrides(EXPECTED), **CHOICES)
    partial = fresh_comfy / "models" / "sadtalker" / "SadTalker_V0.0.2_256.safetensors.part"
    assert partial.stat().st_size > 0 and len(server.requests) == 1
    monkeypatch.undo()
    monkeypatch.setenv("SADTALKER_COMFY_ROOT", str(fresh_comfy))
    monkeypatch.setenv(MIRROR_ENV, server.base)
    assert run(sha256=overrides(EXPECTED), **CHOICES).ui["text"][0].startswith("resumed: ")


def test_a_file_of_another_size_is_refused_before_it_is_fetched_and_the_error_says_how_to_override(fresh_comfy,
                                                                                                     server):
    # without overrides the built-in size of the official detector file cannot match the stand-in
    name = "detection_Resnet50_Final.pth"
    with pytest.raises(DownloadError, match=f"announced a file of {len(content(name))} bytes, expected 109497761; "
                                            "nothing was saved.*the sha256 input of Download SadTalker models"):
        run(sha256=overrides(SADTALKER_NAMES), **CHOICES)
    assert not (fresh_comfy / "models" / "facedetection" / "detection_Resnet50_Final.pth").exists()
    assert not list(fresh_comfy.rglob("*.part"))
    for name in SADTALKER_NAMES:  # the files before it are kept, with the hash of their first download
        assert record_path(fresh_comfy / "models" / "sadtalker" / name).is_file()


def test_malformed_or_stray_overrides_are_refused_before_any_request(fresh_comfy, server):
    with pytest.raises(DownloadError, match="must read NAME=HEX, got 'GFPGANv1.4.pth'"):
        run(sha256="GFPGANv1.4.pth", **CHOICES)
    with pytest.raises(DownloadError, match="a sha256 is given for codeformer.pth, which is not among the files"):
        run(sha256=overrides(["codeformer.pth"]), **CHOICES)
    assert server.requests == []


def test_a_file_that_fails_its_checksum_is_deleted(fresh_comfy, server):
    # the stand-in GFPGAN has the official size, so only the built-in hash can tell it apart
    name = "GFPGANv1.4.pth"
    server.files[name] = bytes(OFFICIAL_FILES[name].size)
    with pytest.raises(DownloadError, match=f"gave a corrupt {name}: its sha256 is .* expected e2cd4703"):
        run(sha256=overrides(SADTALKER_NAMES), size="256", face_detector=False, face_enhancer=name)
    assert not (fresh_comfy / "models" / "facerestore_models" / name).exists()
    assert not list(fresh_comfy.rglob("*.part"))


def test_a_server_without_content_length_is_refused(fresh_comfy, server):
    name = "SadTalker_V0.0.2_256.safetensors"
    server.no_length.add(name)
    with pytest.raises(DownloadError, match="did not announce the file's length"):
        run(sha256=overrides(SADTALKER_NAMES), size="256", face_detector=False, face_enhancer="none")
    assert not (fresh_comfy / "models" / "sadtalker" / name).exists()
    assert not list(fresh_comfy.rglob("*.part"))


def test_a_sha256_override_is_logged_as_a_warning(fresh_comfy, server, caplog):
    with caplog.at_level(logging.WARNING, logger="comfyui_sadtalker.nodes.download"):
        run(sha256=overrides(SADTALKER_NAMES), size="256", face_detector=False, face_enhancer="none")
    warned = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert sorted(name for name in SADTALKER_NAMES if any(name in r.getMessage() for r in warned)) == \
        sorted(SADTALKER_NAMES)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="comfyui_sadtalker.nodes.download"), \
            pytest.raises(DownloadError, match=f"it has {len(content(SADTALKER_NAMES[0]))} bytes, expected 725066984"):
        run(sha256="", size="256", face_detector=False, face_enhancer="none")  # without it, the pins apply again
    assert not [record for record in caplog.records if record.levelno == logging.WARNING]


def test_the_description_says_what_is_checked():
    description = DownloadModels.GET_NODE_INFO_V1()["description"]
    assert "without Content-Length is refused" in description and "published sha256" in description
    # the files the node offers with no published sha256: checked against their first download's
    unhashed = (*SADTALKER_NAMES, "SadTalker_V0.0.2_512.safetensors", "alignment_WFLW_4HG.pth", "RestoreFormer.pth")
    assert all(name in description for name in unhashed)
    assert "GFPGANv1.4.pth" not in description.split("without a published sha256")[1].split(")")[0]
