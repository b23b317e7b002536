"""Official-format export: every trainer's file loads the way the official SadTalker loaders load
it (and through the project's checkpoint reader, with or without the ``epoch`` entry), and a model
folder assembled from trained runs + the official files loads with ``load_models`` and generates
motion with the trained networks."""
from __future__ import annotations

import os
from collections.abc import Mapping

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from sadtalker_core.checkpoints import CheckpointError, read_section
from sadtalker_core.config import ExpNetConfig, PoseVAEConfig
from sadtalker_core.errors import InputError
from sadtalker_core.models import MappingVariant, bundle_name, load_models
from sadtalker_core.motion import MotionOptions, make_motion
from sadtalker_core.motion.audio import load_audio_features
from sadtalker_core.networks.expnet import ExpNet
from sadtalker_core.networks.generator import OcclusionAwareSPADEGenerator
from sadtalker_core.networks.he_estimator import HEEstimator
from sadtalker_core.networks.keypoint_detector import KPDetector
from sadtalker_core.networks.mapping import MappingNet
from sadtalker_core.networks.posevae import PoseVAE
from training.export import EXPNET_FILE, FACEVID2VID_FILE, POSEVAE_FILE, main, mapping_file, run_exports, write_official


def load_like_the_official_code(path: str | os.PathLike, networks: Mapping[str, nn.Module]) -> int:
    """What ``load_cpk`` (src/test_audio2coeff.py) and ``load_cpk_facevid2vid`` / ``load_cpk_mapping``
    (src/facerender/animate.py) do at inference: ``torch.load`` the file, ``load_state_dict`` (strict)
    each named entry into its network, and return ``checkpoint['epoch']``."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    for entry, network in networks.items():
        network.load_state_dict(checkpoint[entry])
    return checkpoint["epoch"]


def load_bundle_like_the_official_code(path: str | os.PathLike, networks: Mapping[str, nn.Module]) -> None:
    """What the official code does with the safetensors bundle (``load_x_from_safetensor``): the
    tensors whose key starts with ``<prefix>.``, prefix removed, strictly loaded."""
    tensors = load_file(str(path))
    for prefix, network in networks.items():
        network.load_state_dict({k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")})


def test_every_trainers_export_loads_the_way_the_official_loaders_load_it(trained):
    runs = {name: trained(name) for name in ("posevae", "expnet", "mapping", "facevid2vid")}
    render = runs["facevid2vid"].config.render
    cases = [  # run, exported file, {entry the official loader reads: (network, its name in the run's checkpoints)}
        ("posevae", POSEVAE_FILE, {"model": (PoseVAE(PoseVAEConfig()), "audio2pose")}),
        ("expnet", EXPNET_FILE, {"model": (ExpNet(ExpNetConfig()), "audio2exp")}),
        ("mapping", mapping_file(70), {"mapping": (MappingNet(runs["mapping"].config.render.mapping), "mapping")}),
        ("facevid2vid", FACEVID2VID_FILE, {
            "generator": (OcclusionAwareSPADEGenerator(render.generator), "generator"),
            "kp_detector": (KPDetector(render.kp_detector), "kp_detector"),
            "he_estimator": (HEEstimator(render.he_estimator), "he_estimator")}),
    ]
    for name, file, entries in cases:
        run = runs[name]
        networks = {entry: network for entry, (network, _) in entries.items()}
        assert load_like_the_official_code(run.out / "export" / file, networks) == run.steps, file
        saved = run.parameters(run.steps)
        for network, saved_as in entries.values():
            assert all(torch.equal(v, saved[f"{saved_as}.{k}"]) for k, v in network.state_dict().items()), file


def test_files_are_written_in_the_layout_their_name_says(tmp_path):
    state = {"weight": torch.arange(4.0).view(2, 2), "bias": torch.ones(2)}
    for name, section in (("auido2exp_00300-model.pth", "audio2exp"), ("mapping_00109-model.pth.tar", "mapping"),
                          (bundle_name(256), "audio2pose")):
        path = write_official(tmp_path / name, {section: state}, epoch=7)
        back = read_section(path, section)
        assert back.keys() == state.keys() and all(torch.equal(back[k], state[k]) for k in state)
    raw = torch.load(tmp_path / "mapping_00109-model.pth.tar", weights_only=True)
    assert raw.keys() == {"mapping", "epoch"} and raw["epoch"] == 7
    with pytest.raises(CheckpointError, match="holds"):
        write_official(tmp_path / "auido2exp_00300-model.pth", {"mapping": state}, epoch=1)
    with pytest.raises(CheckpointError, match="read its 'epoch' entry: give the training step"):
        write_official(tmp_path / "auido2exp_00300-model.pth", {"audio2exp": state})
    assert mapping_file(70) == "mapping_00229-model.pth.tar" and mapping_file(73) == "mapping_00109-model.pth.tar"
    with pytest.raises(InputError, match="no exported files"):
        run_exports(tmp_path / "unfinished")


def test_the_project_reader_takes_files_with_and_without_epoch(tmp_path):
    """Exports written before the ``epoch`` entry was added hold the weights only; both load."""
    state = {"weight": torch.arange(4.0).view(2, 2)}
    torch.save({"mapping": state}, tmp_path / "mapping_00229-model.pth.tar")
    write_official(tmp_path / "new" / "mapping_00229-model.pth.tar", {"mapping": state}, epoch=3)
    for path in (tmp_path / "mapping_00229-model.pth.tar", tmp_path / "new" / "mapping_00229-model.pth.tar"):
        assert torch.equal(read_section(path, "mapping")["weight"], state["weight"])


def test_command_line_names_a_mistake_in_one_line(weights_dir, tmp_path, capsys):
    assert main(["--base", str(weights_dir), "--out", str(tmp_path / "models"), "--expnet", str(tmp_path / "run")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"error: {tmp_path / 'run' / 'export'}: no exported files; finish (or resume) the training run first"


def test_assembled_model_folder_drives_the_pipeline(weights_dir, trained, tmp_path, media_dir, capsys):
    posevae_run, expnet_run, mapping_run = trained("posevae"), trained("expnet"), trained("mapping")
    out = tmp_path / "models"
    assert main(["--base", str(weights_dir), "--out", str(out), "--posevae", str(posevae_run.out),
                 "--expnet", str(expnet_run.out), "--mapping", str(mapping_run.out)]) == 0
    assert str(out / bundle_name(256)) in capsys.readouterr().out
    models = load_models(out, device="cpu")
    trained = {**posevae_run.parameters(posevae_run.steps), **expnet_run.parameters(expnet_run.steps),
               **mapping_run.parameters(mapping_run.steps)}
    for prefix, net in (("audio2pose", models.motion.posevae), ("audio2exp", models.motion.expnet),
                        ("mapping", models.mappings[MappingVariant.FACE])):
        assert all(torch.equal(v, trained[f"{prefix}.{k}"]) for k, v in net.state_dict().items())
    untouched = read_section(weights_dir / bundle_name(256), "face_3drecon")
    assert all(torch.equal(v, untouched[k]) for k, v in models.recon.state_dict().items() if k in untouched)
    # the rewritten bundle still loads the way the official code loads its sections
    load_bundle_like_the_official_code(out / bundle_name(256), {"audio2pose": PoseVAE(), "audio2exp": ExpNet()})
    mels = load_audio_features(media_dir / "RD_Radio31_000_first640ms.wav").mel_batch()
    motion = make_motion(models.motion, mels, torch.zeros(70), MotionOptions(blink="off", seed=1))
    assert motion.num_frames == mels.shape[1] and torch.isfinite(motion.pose).all()
