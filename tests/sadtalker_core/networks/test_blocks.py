"""Shared renderer blocks: the anti-alias kernel is the official one, the hourglass keeps the
volume's size, SPADE accepts a pre-resized map, residual and spectral-norm blocks behave as the
official ones do at inference."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from sadtalker_core.checkpoints import read_section
from sadtalker_core.networks.blocks import AntiAliasInterpolation2d, Hourglass, ResBlock3d, SPADE, SPADEResnetBlock

BUNDLE = "SadTalker_V0.0.2_256.safetensors"


def test_anti_alias_kernel_equals_the_buffer_stored_in_the_checkpoint(weights_dir):
    stored = read_section(weights_dir / BUNDLE, "kp_detector")["down.weight"]
    down = AntiAliasInterpolation2d(3, 0.25)
    assert down.weight.shape == (3, 1, 13, 13)
    torch.testing.assert_close(down.weight, stored, rtol=0, atol=1e-7)


def test_anti_alias_downsamples_by_the_scale_and_keeps_constants():
    down = AntiAliasInterpolation2d(3, 0.25)
    out = down(torch.full((1, 3, 64, 64), 0.5))
    assert out.shape == (1, 3, 16, 16)
    # away from the zero padding a normalised blur keeps a constant image constant
    torch.testing.assert_close(out[..., 2:-2, 2:-2], torch.full_like(out[..., 2:-2, 2:-2], 0.5))


def test_hourglass_keeps_the_volume_and_outputs_expansion_plus_input_channels():
    torch.manual_seed(0)
    hourglass = Hourglass(block_expansion=4, in_features=5, num_blocks=3, max_features=16).eval()
    out = hourglass(torch.randn(2, 5, 2, 16, 16))
    assert hourglass.out_filters == 4 + 5
    assert out.shape == (2, 9, 2, 16, 16)


def test_spade_with_a_map_already_at_the_feature_size_equals_resizing_inside():
    torch.manual_seed(0)
    spade = SPADE(norm_nc=6, label_nc=4).eval()
    x, seg = torch.randn(1, 6, 16, 16), torch.randn(1, 4, 8, 8)
    resized = F.interpolate(seg, size=(16, 16), mode="nearest")
    assert torch.equal(spade(x, seg), spade(x, resized))


def test_residual_block_with_a_zero_last_conv_is_the_identity():
    block = ResBlock3d(4).eval()
    torch.nn.init.zeros_(block.conv2.weight)
    torch.nn.init.zeros_(block.conv2.bias)
    x = torch.randn(1, 4, 2, 8, 8)
    assert torch.equal(block(x), x)


def test_spade_resnet_block_divides_by_the_stored_spectral_norm_without_power_iteration():
    torch.manual_seed(0)
    block = SPADEResnetBlock(8, 4, label_nc=3).eval()
    assert {"conv_0.weight_orig", "conv_0.weight_u", "conv_0.weight_v", "conv_s.weight_orig"} <= set(block.state_dict())
    u_before = block.conv_0.weight_u.clone()
    block(torch.randn(1, 8, 8, 8), torch.randn(1, 3, 8, 8))
    assert torch.equal(block.conv_0.weight_u, u_before)  # eval mode keeps the stored vectors
    conv = block.conv_0
    sigma = torch.dot(conv.weight_u, conv.weight_orig.flatten(1) @ conv.weight_v)
    torch.testing.assert_close(conv.weight, conv.weight_orig / sigma)
