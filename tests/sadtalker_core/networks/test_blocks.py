"""Shared renderer blocks: the anti-alias kernel is the official one, the hourglass keeps the
volume's size, SPADE accepts a map of any size, a convolution of an upsampled map needs no
upsampling, residual and spectral-norm blocks behave as the official ones do at inference."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sadtalker_core.checkpoints import read_section
from sadtalker_core.networks.blocks import (
    PHASES_MIN_SIZE,
    SPADE,
    AntiAliasInterpolation2d,
    Hourglass,
    ResBlock3d,
    SPADEResnetBlock,
    conv_of_upsampled,
    fold_spectral_norm,
)

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


def test_spade_convolves_a_smaller_map_as_if_resized_to_the_feature_size():
    torch.manual_seed(0)
    spade = SPADE(norm_nc=6, label_nc=4).eval()
    x = torch.randn(1, 6, 24, 24)
    for size in (24, 12, 6, 16):  # same size, whole factors 2 and 4, and a fractional one
        seg = torch.randn(1, 4, size, size)
        resized = F.interpolate(seg, size=(24, 24), mode="nearest")
        torch.testing.assert_close(spade(x, seg), spade(x, resized), rtol=0, atol=1e-5)


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("dims", [2, 3])
def test_a_convolution_of_an_upsampled_map_equals_upsampling_then_convolving(dims, factor):
    """In float64 the phase decomposition leaves only rounding differences, in both layouts."""
    torch.manual_seed(0)
    conv = (torch.nn.Conv2d(5, 7, 3, padding=1) if dims == 2 else torch.nn.Conv3d(5, 7, 3, padding=1)).double()
    shape = (2, 5, PHASES_MIN_SIZE, PHASES_MIN_SIZE + 1) if dims == 2 else (2, 5, 3, PHASES_MIN_SIZE, PHASES_MIN_SIZE + 1)
    x = torch.randn(shape, dtype=torch.float64)
    expected = conv(F.interpolate(x, scale_factor=(1,) * (dims - 2) + (factor, factor), mode="nearest"))
    channels_last = x.contiguous(memory_format=torch.channels_last if dims == 2 else torch.channels_last_3d)
    for source in (x, channels_last):
        torch.testing.assert_close(conv_of_upsampled(source, conv, factor), expected, rtol=0, atol=1e-12)
    small = x[..., :PHASES_MIN_SIZE - 1, :PHASES_MIN_SIZE - 1]  # upsampled as such
    torch.testing.assert_close(conv_of_upsampled(small, conv, factor),
                               conv(F.interpolate(small, scale_factor=(1,) * (dims - 2) + (factor, factor))))


def test_a_convolution_of_an_upsampled_map_follows_changes_of_the_weights():
    """The phase kernels derived for inference are reused across calls, but never stale: an
    in-place update or a new dtype of the weight is seen, and with autograd recording the
    weight still gets its gradient."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    x = torch.randn(1, 3, PHASES_MIN_SIZE, PHASES_MIN_SIZE)

    def expected() -> torch.Tensor:
        return conv(F.interpolate(x.to(conv.weight.dtype), scale_factor=2, mode="nearest"))

    with torch.no_grad():
        for change in (lambda: None, lambda: conv.weight.mul_(-2), lambda: conv.to(torch.float64)):
            change()
            torch.testing.assert_close(conv_of_upsampled(x.to(conv.weight.dtype), conv, 2), expected())
    conv_of_upsampled(x.double(), conv, 2).sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_a_convolution_of_an_upsampled_map_accepts_weights_made_under_inference_mode():
    torch.manual_seed(0)
    with torch.inference_mode():  # as the conformance tool loads networks
        conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        x = torch.randn(1, 3, PHASES_MIN_SIZE, PHASES_MIN_SIZE)
        expected = conv(F.interpolate(x, scale_factor=2, mode="nearest"))
        for _ in range(2):
            torch.testing.assert_close(conv_of_upsampled(x, conv, 2), expected)


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


def test_folding_the_spectral_norm_keeps_the_outputs_and_leaves_plain_weights():
    torch.manual_seed(0)
    block = SPADEResnetBlock(8, 4, label_nc=3).eval()
    x, seg = torch.randn(1, 8, 8, 8), torch.randn(1, 3, 8, 8)
    before = block(x, seg)
    folded = fold_spectral_norm(block)
    assert torch.equal(folded(x, seg), before)
    assert not any(key.endswith(("_orig", "_u", "_v")) for key in folded.state_dict())
