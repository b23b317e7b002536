"""PoseVAE training: the CVAE's loss falls on the tiny dataset, the exported
``auido2pose_00140-model.pth`` drives the inference path, the command line trains and exports,
and speakers beyond the official 46 pose styles are refused up front or trained with a style map
or a wider style table."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch

from sadtalker_core.checkpoints import read_section
from sadtalker_core.config import PoseVAEConfig
from sadtalker_core.errors import SettingError
from sadtalker_core.motion.audio import load_audio_features
from sadtalker_core.motion.pose import sample_pose_motion
from sadtalker_core.networks.posevae import PoseVAE, load_posevae
from training.config import ConfigError, load_config, save_config
from training.data.prepare import clip_id_for, speaker_for
from training.data.shards import ClipRecord, Manifest
from training.data.styles import pose_styles
from training.export import POSEVAE_FILE
from training.run.inputs import CannotStart
from training.run.runner import main, train
from training.trainers.posevae import PoseVAETask, PoseVAETrainConfig


def test_training_loss_falls(trained):
    run = trained("posevae")
    assert sorted(run.losses()) == list(range(1, run.steps + 1))
    (reg_first, reg_last), (kl_first, kl_last) = run.summary("reg"), run.summary("kl")
    print(f"PoseVAE reg + kl {reg_first + kl_first:.4f} -> {reg_last + kl_last:.4f} "
          f"(reg {reg_first:.4f} -> {reg_last:.4f}, kl {kl_first:.4f} -> {kl_last:.4f})")
    assert reg_last + kl_last < 0.3 * (reg_first + kl_first)  # the CVAE objective; the GAN terms play a game
    assert reg_last < 0.8 * reg_first


def test_exported_file_drives_inference(trained, media_dir):
    run = trained("posevae")
    path = run.out / "export" / POSEVAE_FILE
    saved = run.parameters(run.steps)
    exported = read_section(path, "audio2pose")
    assert {f"audio2pose.{k}" for k in exported} == saved.keys()
    assert all(torch.equal(exported[k], saved[f"audio2pose.{k}"]) for k in exported)

    net = load_posevae(path)
    mels = load_audio_features(media_dir / "RD_Radio31_000_first640ms.wav").mel_batch()
    motion = sample_pose_motion(net, mels, torch.zeros(1, 6), torch.tensor([1]), generator=torch.Generator().manual_seed(0))
    assert motion.shape == (1, mels.shape[1], 6) and torch.isfinite(motion).all()


def test_command_line_trains_and_exports(configs, tmp_path, capsys):
    config = configs.posevae(tmp_path / "run", 1)
    save_config(config, tmp_path / "posevae.yaml")
    assert main(PoseVAETask, PoseVAETrainConfig, ["--config", str(tmp_path / "posevae.yaml"), "--set", "run.seed=4"]) == 0
    assert "done" in capsys.readouterr().out
    assert load_config(PoseVAETrainConfig, tmp_path / "run" / "config.yaml").run.seed == 4
    assert (tmp_path / "run" / "export" / POSEVAE_FILE).is_file()


SPEAKERS = 47  # one more than the official style table


@pytest.fixture(scope="module")
def many_speakers(prepared, tmp_path_factory) -> Path:
    """Prepared data of 47 speaker folders (``spk_00/clip.mp4`` ...): what ``training.data.prepare`` makes
    of them, each clip's shard a link to one of the two prepared clips (the speaker is all that
    differs)."""
    folder = tmp_path_factory.mktemp("speakers")
    base = Manifest.load(prepared)
    clips = []
    for i in range(SPEAKERS):
        video = Path(f"spk_{i:02d}") / "clip.mp4"
        clip_id, speaker = clip_id_for(folder / video, folder), speaker_for(folder / video, folder)
        source = base.clips[i % 2]
        shard = Path("clips") / f"{clip_id}.safetensors"
        (folder / shard).parent.mkdir(exist_ok=True)
        os.link(prepared / source.shard, folder / shard)
        clips.append(ClipRecord(clip_id, video.as_posix(), speaker, source.frames, shard.as_posix()))
    Manifest(base.size, base.fps, tuple(clips)).save(folder)
    return folder


def test_more_speakers_than_style_slots_stop_before_training_and_name_the_ways_out(configs, many_speakers, tmp_path,
                                                                                   capsys):
    config = configs.posevae(tmp_path / "run", 2, data=many_speakers)
    with pytest.raises(CannotStart) as error:
        train(PoseVAETask, config)
    message = str(error.value)
    assert "47 speakers" in message and "46 style slots" in message
    assert "style_map" in message and "num_styles=47" in message and "only with this project's loaders" in message
    assert "--set KEY=PATH" not in message and "download" not in message  # no file is missing
    assert not (tmp_path / "run").exists()  # stopped before anything was written

    save_config(config, tmp_path / "posevae.yaml")
    assert main(PoseVAETask, PoseVAETrainConfig, ["--config", str(tmp_path / "posevae.yaml")]) == 2
    out, err = capsys.readouterr()
    print(err)
    (line,) = err.splitlines()  # the command line: one message, no traceback
    assert line.startswith("error: training.trainers.posevae cannot start (1 problem): - the prepared data has 47 "
                           "speakers") and "num_styles=47" in line
    assert out == "" and not (tmp_path / "run").exists()


def test_a_style_map_puts_several_speakers_in_one_slot_and_the_export_stays_official(configs, many_speakers, tmp_path):
    style_map = tmp_path / "styles.yaml"
    style_map.write_text("".join(f"spk_{i:02d}: {i % 46}\n" for i in range(SPEAKERS)))  # spk_46 shares slot 0
    config = dataclasses.replace(configs.posevae(tmp_path / "run", 2, data=many_speakers), style_map=str(style_map))
    result = train(PoseVAETask, config)
    task_styles = config.styles()
    assert task_styles["spk_46"] == task_styles["spk_00"] == 0 and task_styles["spk_45"] == 45
    exported = torch.load(result.exported[0], weights_only=True)
    PoseVAE(PoseVAEConfig()).load_state_dict(exported["model"])  # the official width: strict load works
    assert exported["epoch"] == 2


def test_a_wider_style_table_trains_and_only_this_projects_loader_reads_it(configs, many_speakers, tmp_path, capsys,
                                                                           media_dir, monkeypatch):
    config = dataclasses.replace(configs.posevae(tmp_path / "run", 2, data=many_speakers), num_styles=SPEAKERS)
    before_first_step = []
    step = PoseVAETask.training_step

    def first_looks_at_stderr(task, batch, opt):
        if not before_first_step:
            before_first_step.append(capsys.readouterr().err)
        return step(task, batch, opt)

    monkeypatch.setattr(PoseVAETask, "training_step", first_looks_at_stderr)
    result = train(PoseVAETask, config)
    warned = ("the PoseVAE this run trains and exports has 47 pose styles, the official one 46: only this project's "
              "loaders")
    assert f"warning: {warned}" in before_first_step[0]
    assert f"the PoseVAE in {result.exported[0]} has 47 pose styles" in capsys.readouterr().err  # and at the export
    exported = torch.load(result.exported[0], weights_only=True)
    with pytest.raises(RuntimeError, match="size mismatch for netG.decoder.classbias"):
        PoseVAE(PoseVAEConfig()).load_state_dict(exported["model"])  # what the official strict load does

    net = load_posevae(result.exported[0])  # the width comes from the file
    assert net.cfg.num_classes == SPEAKERS and net.netG.decoder.classbias.shape == (SPEAKERS, 64)
    mels = load_audio_features(media_dir / "RD_Radio31_000_first640ms.wav").mel_batch()
    motion = sample_pose_motion(net, mels, torch.zeros(1, 6), torch.tensor([SPEAKERS - 1]),
                                generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(motion).all()


def test_style_map_mistakes_are_named(tmp_path):
    speakers = ["a", "b", "c"]
    assert pose_styles(speakers, 46) == {"a": 0, "b": 1, "c": 2}
    style_map = tmp_path / "styles.yaml"
    style_map.write_text("a: 0\nb: 1\n")
    with pytest.raises(SettingError, match="gives no slot to 1 of the 3 speakers \\(e.g. c\\)"):
        pose_styles(speakers, 46, style_map)
    style_map.write_text("a: 0\nb: 1\nc: 46\n")
    with pytest.raises(SettingError, match="slots must be 0..45 .*c: 46"):
        pose_styles(speakers, 46, style_map)
    style_map.write_text("a: first\n")
    with pytest.raises(SettingError, match="whole-number slots"):
        pose_styles(speakers, 46, style_map)
    with pytest.raises(SettingError, match="cannot read it"):
        pose_styles(speakers, 46, tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="num_styles"):
        load_config(PoseVAETrainConfig, overrides=["model.num_classes=50"])
