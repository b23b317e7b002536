"""MappingNet training against frozen face-vid2vid networks: the keypoint loss falls, and the
exported ``mapping_00229-model.pth.tar`` loads with the official MappingNet config and renders
through the inference path."""
from __future__ import annotations

import torch

from sadtalker_core.networks.mapping import load_mapping
from sadtalker_core.render.frames import FaceRenderModels, load_face_render_models, render_frames
from sadtalker_core.render.inputs import coefficient_windows
from training.data.datasets import to_image
from training.data.shards import PreparedData


def test_training_loss_falls(trained):
    run = trained("mapping")
    (first, last), (kp_first, kp_last) = run.summary("total"), run.summary("keypoint")
    perceptual_first, perceptual_last = run.summary("perceptual")
    print(f"MappingNet total {first:.4f} -> {last:.4f} (keypoint {kp_first:.4f} -> {kp_last:.4f}, "
          f"perceptual {perceptual_first:.4f} -> {perceptual_last:.4f})")
    # the frozen renderer is random (tiny, untrained): the keypoint term carries the signal
    assert last < 0.8 * first
    assert kp_last < 0.35 * kp_first
    assert perceptual_last <= perceptual_first


def test_exported_file_renders_through_the_inference_path(trained, tiny_facevid2vid_file, prepared):
    run = trained("mapping")
    exported = run.out / "export" / "mapping_00229-model.pth.tar"
    official = load_mapping(exported)  # the official MappingConfig (70 coefficients, 15 keypoints)
    saved = run.parameters(run.steps)
    assert all(torch.equal(value, saved[f"mapping.{key}"]) for key, value in official.state_dict().items())

    render = run.config.render
    models = load_face_render_models(tiny_facevid2vid_file, exported, render)
    shard = PreparedData(prepared).shards[0]
    coeffs = torch.from_numpy(shard.array("coeffs"))
    windows = coefficient_windows(coeffs[0], coeffs[:5])
    image = to_image(shard.frames([0]), run.config.image_size)
    frames = torch.cat(list(render_frames(FaceRenderModels(models.kp_detector, models.generator, official), image, windows)))
    assert frames.shape == (5, 3, 32, 32) and torch.isfinite(frames).all()
