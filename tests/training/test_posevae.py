"""PoseVAE training: the CVAE's loss falls on the tiny dataset, the exported
``auido2pose_00140-model.pth`` drives the inference path, and the command line trains and exports."""
from __future__ import annotations

import torch

from sadtalker_core.checkpoints import read_section
from sadtalker_core.motion.audio import load_audio_features
from sadtalker_core.motion.pose import sample_pose_motion
from sadtalker_core.networks.posevae import load_posevae
from training.config import load_config, save_config
from training.export import POSEVAE_FILE
from training.runner import main
from training.train_posevae import PoseVAETask, PoseVAETrainConfig


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
