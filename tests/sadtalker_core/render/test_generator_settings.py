"""Generator settings: exact mode is the default and keeps the official numbers; fast mode
computes the convolution stacks in reduced precision, keeps the head motion (keypoints) exact and
renders frames within 35 dB PSNR of exact mode.

One frame at 128x128 per setting (the generator is fully convolutional; the keypoint detector's
five down blocks need at least 128) keeps the CPU time down. On a CPU without native bfloat16 the
mechanism (which stacks are cast, keypoints kept, float32 frames out) is checked with float64 standing
in for the reduced dtype: torch's emulated bfloat16 takes about 25 s per 3-D convolution there, and
the 35 dB figure is then only a bound on the mechanism, not on bfloat16 rounding.
"""
from __future__ import annotations

import pytest
import torch

from conformance import load_golden
from sadtalker_core import precision
from sadtalker_core.config import FACERENDER
from sadtalker_core.networks.generator import load_generator
from sadtalker_core.precision import Precision, reduced_dtype
from sadtalker_core.render.frames import load_face_render_models, render_frames
from sadtalker_core.render.generator_settings import EXACT, FAST, GeneratorSettings, apply_generator_settings
from sadtalker_core.render.inputs import coefficient_windows, read_source_image

BUNDLE = "SadTalker_V0.0.2_256.safetensors"
MAPPING = "mapping_00229-model.pth.tar"
NATIVE = reduced_dtype("cpu")
SIZE = 128


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio of two images in [0, 1], in dB."""
    return float(10 * torch.log10(1 / torch.mean((a.double() - b.double()) ** 2)))


def test_exact_float32_channels_last_without_compilation_is_the_default():
    assert GeneratorSettings() == EXACT == GeneratorSettings(Precision.EXACT, channels_last=True, compile=False)
    assert GeneratorSettings("fast") == FAST and FAST.precision is Precision.FAST


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="half"):
        GeneratorSettings("half")


@pytest.fixture(scope="module")
def fast_dtype():
    """The dtype fast mode computes in here: the CPU's own, or float64 made to look native."""
    if NATIVE is not None:
        yield NATIVE
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(precision, "reduced_dtype", lambda device: torch.float64)
        yield torch.float64


@pytest.fixture(scope="module")
def renders(weights_dir, media_dir, goldens_dir, fast_dtype):
    """The first golden frame rendered in exact and in fast mode, and the keypoints each render
    handed to the dense motion network."""
    golden = load_golden(goldens_dir / "make_animation.safetensors")
    windows = coefficient_windows(golden["source_coeff"], golden["coeff_seq"][:1])
    source = read_source_image(media_dir / "people_0.png", size=SIZE)
    out = {}
    for settings in (EXACT, FAST):
        models = load_face_render_models(weights_dir / BUNDLE, weights_dir / MAPPING, FACERENDER, settings=settings)
        keypoints = []
        models.generator.dense_motion_network.register_forward_pre_hook(
            lambda module, args: keypoints.append(torch.cat(args[1:3])))
        frame = torch.cat(list(render_frames(models, source, windows)))
        out[settings.precision] = frame, keypoints[0], models
    return out


def test_fast_mode_frames_are_within_35_db_of_exact_mode(renders):
    exact, fast = renders[Precision.EXACT][0], renders[Precision.FAST][0]
    assert exact.dtype == fast.dtype == torch.float32 and exact.shape == fast.shape == (1, 3, SIZE, SIZE)
    assert psnr(fast, exact) >= 35


def test_fast_mode_keeps_the_head_motion_keypoints_of_exact_mode(renders):
    exact, fast = renders[Precision.EXACT][1], renders[Precision.FAST][1]
    assert exact.dtype == fast.dtype == torch.float32
    assert (fast - exact).abs().max() <= 1e-3


def test_fast_mode_casts_only_the_generator_convolution_stacks(renders, fast_dtype):
    models = renders[Precision.FAST][2]
    dtype = fast_dtype
    generator = models.generator
    assert next(generator.decoder.parameters()).dtype == dtype
    assert next(generator.dense_motion_network.hourglass.parameters()).dtype == dtype
    # source encoding (warped by the motion) and keypoint networks stay float32
    assert next(generator.first.parameters()).dtype == torch.float32
    assert all(p.dtype == torch.float32 for net in (models.kp_detector, models.mapping) for p in net.parameters())


def test_exact_mode_renders_what_the_plain_float32_generator_renders(weights_dir, goldens_dir):
    """Channels-last and the boundary hooks change float rounding only."""
    golden = load_golden(goldens_dir / "generator.safetensors")
    source = torch.nn.functional.interpolate(golden["source_image"], size=(SIZE, SIZE), mode="area")
    plain = load_generator(weights_dir / BUNDLE)
    with torch.inference_mode():
        expected = plain(source, golden["kp_driving"][:1], golden["kp_source"][:1])
        actual = apply_generator_settings(plain, EXACT)(source, golden["kp_driving"][:1], golden["kp_source"][:1])
    for name in ("prediction", "mask", "occlusion_map"):
        assert getattr(actual, name).dtype == torch.float32
        torch.testing.assert_close(getattr(actual, name), getattr(expected, name), rtol=0, atol=1e-4)
