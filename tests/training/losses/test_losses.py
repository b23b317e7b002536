"""The objectives and their helper networks: KL, adversarial forms, keypoint / head-pose /
deformation priors, the perceptual loss on a torchvision-layout VGG-19, the discriminator, the
equivariance warps and the BFM landmark projection."""
from __future__ import annotations

import math

import pytest
import torch

from sadtalker_core.checkpoints import CheckpointError
from sadtalker_core.errors import SettingError
from sadtalker_core.networks.mapping import HeadPose
from training.losses.bfm import LandmarkProjector, eye_blink_loss, eye_openings, load_bfm
from training.losses.discriminator import DiscriminatorConfig, MultiScaleDiscriminator
from training.losses.keypoints import posed_keypoints, renderer_degrees, split_pose
from training.losses.objectives import (
    ImagePyramid,
    PerceptualLoss,
    PerceptualWeights,
    deformation_prior,
    discriminator_adversarial,
    feature_matching,
    generator_adversarial,
    head_pose_loss,
    keypoint_prior,
    kl_divergence,
    upcast,
)
from training.losses.transforms import ThinPlateWarp
from training.losses.vgg import VGG19Features, load_vgg19


def test_kl_is_zero_for_the_prior_and_grows_away_from_it():
    zeros = torch.zeros(4, 64)
    assert kl_divergence(zeros, zeros) == 0
    assert kl_divergence(torch.ones(4, 64), zeros) == pytest.approx(32.0)


def test_adversarial_forms():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    assert generator_adversarial(fake, "hinge") == pytest.approx(0.75)
    assert generator_adversarial(fake, "ls") == pytest.approx((9 + 0.25) / 2)
    assert discriminator_adversarial(real, fake, "hinge") == pytest.approx(0.25 + 0.75)
    assert discriminator_adversarial(real, fake, "ls") == pytest.approx((1 + 0.25) / 2 + (4 + 0.25) / 2)
    with pytest.raises(SettingError, match="gan mode"):
        generator_adversarial(fake, "wasserstein")


def test_keypoint_prior_pushes_close_keypoints_apart_and_to_the_depth():
    spread = torch.tensor([[[-0.5, 0, 0.33], [0.5, 0, 0.33]]])
    assert keypoint_prior(spread) == pytest.approx(0.0, abs=1e-6)
    close = torch.tensor([[[0.0, 0, 0.33], [0.1, 0, 0.33]]])
    assert keypoint_prior(close) == pytest.approx(2 * (0.1 - 0.01))
    deep = torch.tensor([[[-0.5, 0, 0.0], [0.5, 0, 0.0]]])
    assert keypoint_prior(deep) == pytest.approx(0.33)


def test_head_pose_and_deformation_priors_read_the_bins_and_offsets():
    bins = torch.full((1, 66), -1e4)
    bins[0, 33] = 0  # 33 * 3 - 99 = 0 degrees
    pose = HeadPose(yaw=bins, pitch=bins, roll=bins, t=torch.zeros(1, 3), exp=torch.tensor([[1.0, -2.0, 0.5]]))
    assert head_pose_loss(pose, torch.tensor([[10.0, -5.0, 0.0]])) == pytest.approx(15.0)
    assert deformation_prior(pose) == pytest.approx(3.5)


def test_posed_keypoints_keep_the_full_translation():
    bins = torch.full((2, 66), -1e4)
    bins[:, 33] = 0
    pose = HeadPose(bins, bins, bins, torch.tensor([[1.0, 2.0, 3.0], [0, 0, 0]]), torch.zeros(2, 3))
    canonical = torch.tensor([[[0.1, 0.2, 0.3]]])
    torch.testing.assert_close(posed_keypoints(canonical, pose), torch.tensor([[[1.1, 2.2, 3.3]], [[0.1, 0.2, 0.3]]]))
    first, rest = split_pose(pose, 1)
    assert first.t.shape == (1, 3) and torch.equal(rest.t, pose.t[1:])
    degrees = renderer_degrees(torch.tensor([[math.pi / 18, -math.pi / 9, math.pi / 36]]))
    torch.testing.assert_close(degrees, torch.tensor([[-20.0, -10.0, -5.0]]))


def test_perceptual_loss_compares_vgg_features_over_a_pyramid(tmp_path):
    torch.manual_seed(0)
    features = VGG19Features()
    path = tmp_path / "vgg19.pth"
    torch.save({**features.state_dict(), "classifier.0.weight": torch.zeros(4096, 25088 // 64)}, path)
    loaded = load_vgg19(path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), features.state_dict().values()))
    loss = PerceptualLoss(loaded, PerceptualWeights(scales=(1.0, 0.5)))
    image = torch.rand(2, 3, 32, 32, requires_grad=True)
    assert loss(image, image.detach()) == 0
    other = loss(image, torch.rand(2, 3, 32, 32))
    other.backward()
    assert other > 0 and image.grad.abs().sum() > 0
    assert [t.shape[1] for t in loaded(image)] == [64, 128, 256, 512, 512]
    with pytest.raises(SettingError, match="vgg19-dcbb9e9d.pth"):
        load_vgg19("")
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="VGG-19"):
        load_vgg19(tmp_path / "bad.pth")


def test_discriminator_gives_patch_logits_and_block_features():
    config = DiscriminatorConfig(block_expansion=8, max_features=32, num_blocks=3)
    net = MultiScaleDiscriminator(config)
    ((features, logits),) = net(ImagePyramid(config.scales)(torch.rand(2, 3, 32, 32)))
    assert [f.shape[1] for f in features] == [16, 32, 32] and logits.shape == (2, 1, 2, 2)
    assert feature_matching(features, features, (10.0,) * 3) == 0


def test_warps_map_keypoints_back_to_where_the_image_moved_them():
    identity = ThinPlateWarp(torch.zeros(1, 2, 3), torch.zeros(1, 25, 2))
    image = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(identity.warp_image(image), image)
    shift = torch.zeros(1, 2, 3)
    shift[0, 0, 2] = 0.25
    warp = ThinPlateWarp(shift, torch.zeros(1, 25, 2))
    torch.testing.assert_close(warp.warp(torch.tensor([[[0.0, 0.5]]])), torch.tensor([[[0.25, 0.5]]]))
    bump = torch.zeros(1, 9, 2)
    bump[0, 4] = 0.1
    curved = ThinPlateWarp(torch.zeros(1, 2, 3), bump).warp(torch.tensor([[[0.0, 0.0], [1.0, 1.0]]]))
    assert curved[0, 0].abs().max() < 1e-6 and curved[0, 1].abs().max() > 0  # zero at the bump's own control point


def test_bfm_projection_is_deep3dfacerecons_camera(fake_bfm):
    bfm = load_bfm(fake_bfm)
    assert bfm.mean.shape == (68, 3) and bfm.id_basis.shape == (68, 3, 80) and bfm.exp_basis.shape == (68, 3, 64)
    project = LandmarkProjector(bfm)
    zeros = torch.zeros(1, 80), torch.zeros(1, 64), torch.zeros(1, 3), torch.zeros(1, 3)
    points = project(*zeros)[0]
    x, y, z = bfm.mean.unbind(-1)
    torch.testing.assert_close(points, torch.stack([1015 * x / (10 - z) + 112, 224 - (1015 * y / (10 - z) + 112)], -1))
    expression = torch.zeros(1, 64, requires_grad=True)
    moved = project(zeros[0], expression + 1, zeros[2], zeros[3])
    moved.sum().backward()
    assert expression.grad.abs().sum() > 0
    assert eye_openings(points[None]).shape == (1, 4)
    assert eye_blink_loss(points[None], points[None]) == 0
    assert upcast(torch.ones(1, dtype=torch.bfloat16)).dtype == torch.float32
    assert upcast(torch.ones(1, dtype=torch.float64)).dtype == torch.float64
