"""DenseMotionNetwork on a small random network: sparse motions, heatmaps, the motion mask and the
blended deformation follow the official definitions."""
from __future__ import annotations

import pytest
import torch

from sadtalker_core.config import DenseMotionConfig
from sadtalker_core.networks.coordinates import coordinate_grid
from sadtalker_core.networks.dense_motion import MASK_FLOOR, DenseMotionNetwork

NUM_KP = 3
SIZE = (2, 32, 32)  # depth, height, width: 32 survives the hourglass' 5 halvings


@pytest.fixture(scope="module")
def network() -> DenseMotionNetwork:
    torch.manual_seed(0)
    config = DenseMotionConfig(block_expansion=4, max_features=16, num_blocks=5, reshape_depth=SIZE[0], compress=2)
    return DenseMotionNetwork(config, num_kp=NUM_KP, feature_channel=6, estimate_occlusion_map=True).eval()


def _keypoints(batch: int, seed: int) -> torch.Tensor:
    return torch.rand(batch, NUM_KP, 3, generator=torch.Generator().manual_seed(seed)) - 0.5


def test_sparse_motions_are_identity_then_shifted_by_source_minus_driving(network):
    kp_driving, kp_source = _keypoints(2, 1), _keypoints(2, 2)
    motions = network.sparse_motions(SIZE, kp_driving, kp_source)
    identity = coordinate_grid(SIZE, kp_source)
    assert motions.shape == (2, NUM_KP + 1, *SIZE, 3)
    assert torch.equal(motions[:, 0], identity.expand(2, *identity.shape))
    shift = (kp_source - kp_driving)[:, 1].view(2, 1, 1, 1, 3)
    torch.testing.assert_close(motions[:, 2], identity + shift)


def test_heatmaps_have_a_zero_background_and_vanish_when_nothing_moves(network):
    size = (9, 9, 9)  # odd sizes put a grid point at the origin
    kp = torch.zeros(1, NUM_KP, 3)
    assert not network.heatmap_representations(size, kp, kp).any()
    heatmap = network.heatmap_representations(size, kp + 0.5, kp)
    assert heatmap.shape == (1, NUM_KP + 1, 1, *size)
    assert not heatmap[:, 0].any()
    # driving gaussian minus source gaussian: +1 at the driving keypoint, -1 at the source one
    torch.testing.assert_close(heatmap[:, 1:].amax(), torch.tensor(1.0), rtol=0, atol=1e-6)
    torch.testing.assert_close(heatmap[:, 1:].amin(), torch.tensor(-1.0), rtol=0, atol=1e-6)


def test_mask_is_a_softmax_and_the_deformation_blends_motions_above_the_floor(network):
    kp = _keypoints(1, 4)
    feature = network.compress_source(torch.randn(1, 6, *SIZE))
    with torch.inference_mode():
        motion = network(feature, kp, kp)
    assert motion.mask.shape == (1, NUM_KP + 1, *SIZE)
    torch.testing.assert_close(motion.mask.sum(dim=1), torch.ones(1, *SIZE))
    assert motion.occlusion_map.shape == (1, 1, *SIZE[1:])
    # with driving == source every motion is the identity grid: the blend is the identity scaled
    # by the mask weight that survives the floor
    kept = torch.where(motion.mask < MASK_FLOOR, 0, motion.mask).sum(dim=1).unsqueeze(-1)
    torch.testing.assert_close(motion.deformation, coordinate_grid(SIZE, kp) * kept)


def test_one_source_serves_a_driving_batch(network):
    kp_driving, kp_source = _keypoints(2, 5), _keypoints(1, 6)
    feature = network.compress_source(torch.randn(1, 6, *SIZE))
    with torch.inference_mode():
        shared = network(feature, kp_driving, kp_source)
        repeated = network(feature.expand(2, -1, -1, -1, -1), kp_driving, kp_source.expand(2, -1, -1))
    torch.testing.assert_close(shared.deformation, repeated.deformation, rtol=0, atol=1e-6)
    torch.testing.assert_close(shared.occlusion_map, repeated.occlusion_map, rtol=0, atol=1e-6)
