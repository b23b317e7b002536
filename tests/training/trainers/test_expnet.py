"""ExpNet training: distillation + landmark losses fall on the tiny dataset, the lip-reading hook
joins the objective, a frozen audio encoder stays frozen, and the exported
``auido2exp_00300-model.pth`` drives the inference path."""
from __future__ import annotations

import dataclasses
import os

import pytest
import torch

from sadtalker_core.errors import InputError, SettingError
from sadtalker_core.motion import MotionNets, MotionOptions, make_motion
from sadtalker_core.motion.audio import load_audio_features
from sadtalker_core.networks.expnet import load_expnet
from sadtalker_core.networks.posevae import load_posevae
from training.export import EXPNET_FILE
from training.run.distributed import DistContext
from training.run.runner import Optimization, prepare_networks
from training.trainers.expnet import ExpNetTask, load_hook


def test_training_loss_falls(trained):
    run = trained("expnet")
    losses = run.losses()
    assert set(losses[1]) == {"total", "distill", "landmark", "eye_blink"}
    (first, last), (distill_first, distill_last) = run.summary("total"), run.summary("distill")
    print(f"ExpNet total {first:.4f} -> {last:.4f} (distill {distill_first:.5f} -> {distill_last:.5f})")
    assert last < 0.5 * first
    assert distill_last < 0.6 * distill_first


def test_lip_reading_hook_is_weighted_into_the_objective(configs, tmp_path):
    config = configs.expnet(tmp_path, 1)
    task = ExpNetTask(config, DistContext(0, 1, 0, torch.device("cpu")))
    prepare_networks(task, task.ctx)
    seen = []

    def hook(expression, batch):
        seen.append(expression.shape)
        return expression.pow(2).mean()

    task.lip_reading = hook
    batch = torch.utils.data.default_collate([task.dataset[0], task.dataset[1]])
    losses = task.training_step(batch, Optimization(task.optimizers(), torch.device("cpu"), config.run))
    assert seen == [(2, config.frames, 64)]
    weights = config.loss
    expected = (weights.distill * losses["distill"] + weights.landmark * losses["landmark"]
                + weights.eye_blink * losses["eye_blink"] + weights.lip_reading * losses["lip_reading"])
    assert torch.allclose(losses["total"], expected)
    assert load_hook("os.path:join") is os.path.join
    with pytest.raises(SettingError, match="package.module:function"):
        load_hook("os.path.join")
    with pytest.raises(SettingError, match="lip_reading 'os.path:no_such_function'"):
        load_hook("os.path:no_such_function")


def test_training_without_targets_says_how_to_make_them(configs, tmp_path):
    config = configs.expnet(tmp_path, 1)
    config = type(config)(run=config.run, targets=str(tmp_path / "none"))
    with pytest.raises(InputError, match="python -m training.data.teacher"):
        ExpNetTask(config, DistContext(0, 1, 0, torch.device("cpu")))


def test_exported_file_drives_inference(trained, fake_checkpoints, media_dir):
    run = trained("expnet")
    expnet = load_expnet(run.out / "export" / EXPNET_FILE)
    saved = run.parameters(run.steps)
    assert all(torch.equal(value, saved[f"audio2exp.{key}"]) for key, value in expnet.state_dict().items())

    nets = MotionNets(expnet, load_posevae(fake_checkpoints.path("auido2pose_00140-model.pth")))
    mels = load_audio_features(media_dir / "RD_Radio31_000_first640ms.wav").mel_batch()
    motion = make_motion(nets, mels, torch.zeros(70), MotionOptions(blink="off", seed=0))
    assert motion.expression.shape == (mels.shape[1], 64) and torch.isfinite(motion.expression).all()


def test_a_frozen_audio_encoder_keeps_its_weights_and_statistics(configs, tmp_path):
    config = dataclasses.replace(configs.expnet(tmp_path, 1), train_audio_encoder=False)
    task = ExpNetTask(config, DistContext(0, 1, 0, torch.device("cpu")))
    prepare_networks(task, task.ctx)
    before = {k: v.clone() for k, v in task.net.audio_encoder.state_dict().items()}
    mapping = task.net.mapping1.weight.clone()
    batch = torch.utils.data.default_collate([task.dataset[0], task.dataset[1]])
    task.training_step(batch, Optimization(task.optimizers(), torch.device("cpu"), config.run))
    assert not task.net.audio_encoder.training and task.net.training
    assert all(torch.equal(before[k], v) for k, v in task.net.audio_encoder.state_dict().items())
    assert not torch.equal(mapping, task.net.mapping1.weight)
