"""face-vid2vid training (tiny renderer): the objective falls, the exported
``facevid2vid_00189-model.pth.tar`` renders through the inference path, and the official-size
networks export in the official layout."""
from __future__ import annotations

import dataclasses

import torch

from sadtalker_core.checkpoints import load_section_into, read_section
from sadtalker_core.config import FACERENDER
from sadtalker_core.networks.he_estimator import load_he_estimator
from sadtalker_core.render.frames import load_face_render_models, render_frames
from sadtalker_core.render.inputs import coefficient_windows
from training.export import FACEVID2VID_FILE
from training.run.distributed import DistContext
from training.trainers.facevid2vid import FaceVid2VidTask


def test_training_loss_falls(trained):
    run = trained("facevid2vid")
    losses = run.losses()
    assert set(losses[1]) == {"total", "perceptual", "gan_g", "gan_d", "feature_matching", "equivariance",
                              "keypoint", "headpose", "expression"}
    (first, last), (perceptual_first, perceptual_last) = run.summary("total"), run.summary("perceptual")
    print(f"face-vid2vid total {first:.3f} -> {last:.3f} (perceptual {perceptual_first:.4f} -> {perceptual_last:.4f})")
    assert last < 0.5 * first
    assert perceptual_last < perceptual_first


def test_exported_file_renders_through_the_inference_path(trained, fake_checkpoints):
    run = trained("facevid2vid")
    exported = run.out / "export" / FACEVID2VID_FILE
    models = load_face_render_models(exported, fake_checkpoints.path("mapping_00229-model.pth.tar"), run.config.render)
    saved = run.parameters(run.steps)
    for section in ("generator", "kp_detector", "he_estimator"):
        state = read_section(exported, section)
        assert {f"{section}.{k}" for k in state} == {k for k in saved if k.startswith(f"{section}.")}
        assert all(torch.equal(v, saved[f"{section}.{k}"]) for k, v in state.items())
    windows = coefficient_windows(torch.zeros(73), torch.zeros(3, 70))
    frames = torch.cat(list(render_frames(models, torch.rand(1, 3, 32, 32), windows)))
    assert frames.shape == (3, 3, 32, 32) and torch.isfinite(frames).all()


def test_official_size_networks_export_in_the_official_layout(configs, tmp_path):
    config = configs.facevid2vid(tmp_path, 1)
    config = dataclasses.replace(config, render=FACERENDER, discriminator=type(config.discriminator)(),
                                 image_size=256)
    task = FaceVid2VidTask(config, DistContext(0, 1, 0, torch.device("cpu")))
    (path,) = task.export(tmp_path / "export", 1)
    assert path.name == FACEVID2VID_FILE
    he_estimator = load_he_estimator(path)
    assert all(torch.equal(v, task.he_estimator.state_dict()[k]) for k, v in he_estimator.state_dict().items())
    fresh = load_section_into(type(task.generator)(FACERENDER.generator), path, "generator")
    assert all(torch.equal(v, task.generator.state_dict()[k]) for k, v in fresh.state_dict().items())
