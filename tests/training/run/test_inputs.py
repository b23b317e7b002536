"""Every trainer checks the files it reads before the first step and names everything missing in
one error (with how to fetch the downloadable ones), which its command line prints as one line."""
from __future__ import annotations

import dataclasses
import shutil

import pytest

from training.config import save_config
from training.run.inputs import CannotStart
from training.run.runner import main, train
from training.trainers.expnet import ExpNetTask
from training.trainers.facevid2vid import FaceVid2VidTask
from training.trainers.mapping import MappingTask, MappingTrainConfig
from training.trainers.posevae import PoseVAETask

TASKS = {"posevae": PoseVAETask, "expnet": ExpNetTask, "mapping": MappingTask, "facevid2vid": FaceVid2VidTask}


def test_the_test_configs_have_every_input(configs, tmp_path):
    for name, task in TASKS.items():
        assert task.missing_inputs(getattr(configs, name)(tmp_path, 1)) == [], name


def test_mapping_lists_everything_missing_at_once_before_writing_anything(configs, tmp_path, capsys):
    bundle = tmp_path / "SadTalker_V0.0.2_256.safetensors"
    bundle.write_bytes(b"")  # the layout check goes by the official name
    base = configs.mapping(tmp_path / "run", 1)
    config = dataclasses.replace(base, run=dataclasses.replace(base.run, data=str(tmp_path / "nowhere")),
                                 facevid2vid=str(bundle), vgg19=str(tmp_path / "vgg19-dcbb9e9d.pth"))
    with pytest.raises(CannotStart) as error:
        train(MappingTask, config)
    message = str(error.value)
    print(message)
    assert "training.trainers.mapping cannot start (3 problems):" in message
    assert f"run.data: {tmp_path / 'nowhere' / 'manifest.json'} not found" in message
    assert "facevid2vid: a SadTalker_V0.0.2_256.safetensors holds no he_estimator weights" in message
    assert "facevid2vid_00189-model.pth.tar" in message
    assert f"vgg19: {tmp_path / 'vgg19-dcbb9e9d.pth'} not found" in message
    assert "--set KEY=PATH; python -m sadtalker_core download DIR --training" in message
    assert not (tmp_path / "run").exists()

    save_config(config, tmp_path / "mapping.yaml")
    assert main(MappingTask, MappingTrainConfig, ["--config", str(tmp_path / "mapping.yaml")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"error: {' '.join(part.strip() for part in message.splitlines())}"
    assert not (tmp_path / "run").exists()


def test_each_trainer_names_its_required_files(configs, tmp_path):
    unset = {
        "posevae": (dataclasses.replace(configs.posevae(tmp_path, 1), audio_encoder=""), ["audio_encoder: not set"]),
        "mapping": (dataclasses.replace(configs.mapping(tmp_path, 1), facevid2vid="", vgg19=""),
                    ["facevid2vid: not set", "vgg19: not set"]),
        "facevid2vid": (dataclasses.replace(configs.facevid2vid(tmp_path, 1), vgg19="", init=str(tmp_path / "x.pth")),
                        ["vgg19: not set", "init: "]),
        "expnet": (dataclasses.replace(configs.expnet(tmp_path, 1), bfm=str(tmp_path / "BFM_model_front.mat")),
                   ["bfm: "]),
    }
    for name, (config, expected) in unset.items():
        problems = TASKS[name].missing_inputs(config)
        assert len(problems) == len(expected) and all(p.startswith(e) for p, e in zip(problems, expected)), problems


def test_expnet_needs_lip_only_targets_for_every_clip(configs, prepared, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared, data, ignore=shutil.ignore_patterns("targets"))
    base = configs.expnet(tmp_path / "run", 1)
    config = dataclasses.replace(base, run=dataclasses.replace(base.run, data=str(data)))
    (problem,) = ExpNetTask.missing_inputs(config)
    assert problem.startswith(f"targets: {data / 'targets'} has no lip-only targets for 2 of 2 clips")
    assert "python -m training.data.teacher" in problem
