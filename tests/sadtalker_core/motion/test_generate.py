"""Audio -> motion: chunking, latent draws and smoothing follow the official ``Audio2Coeff.generate``,
and the motion stage's entry (``make_motion``) reproduces its coefficients."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import savgol_filter
from tf32_probe import tf32_seen_by

from conformance import load_golden
from sadtalker_core.errors import SettingError
from sadtalker_core.motion import MotionNets, MotionOptions, load_motion_nets, make_expression, make_motion
from sadtalker_core.motion.expression import predict_expression
from sadtalker_core.motion.pose import pose_draw_count, sample_pose_motion, smooth_pose
from sadtalker_core.motion.sequences import Motion

BUNDLE = "SadTalker_V0.0.2_256.safetensors"


@pytest.fixture(scope="module")
def nets(weights_dir) -> MotionNets:
    return load_motion_nets(weights_dir / BUNDLE)


def _mels(frames: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, frames, 1, 80, 16, generator=torch.Generator().manual_seed(seed)) * 8 - 4


def _pose_golden(goldens_dir, frames: int):
    golden = load_golden(goldens_dir / f"audio2pose_T{frames}.safetensors")
    return golden, golden["ref"][:, 0, -6:]


# --- expression ------------------------------------------------------------------------------


@pytest.mark.parametrize("frames", [10, 23])
def test_expression_is_predicted_in_10_frame_chunks_equal_to_frame_by_frame(nets, frames):
    g = torch.Generator().manual_seed(1)
    mels, ref, blink = _mels(frames), torch.randn(1, frames, 64, generator=g), torch.rand(1, frames, 1, generator=g)
    chunked = predict_expression(nets.expnet, mels, ref, blink)
    by_frame = torch.cat([nets.expnet(mels[:, t:t + 1], ref[:, t:t + 1], blink[:, t:t + 1]) for t in range(frames)], 1)
    assert chunked.shape == (1, frames, 64)
    torch.testing.assert_close(chunked, by_frame, atol=1e-5, rtol=0)


# --- pose: draws and chunks ------------------------------------------------------------------


@pytest.mark.parametrize(("frames", "draws"), [(1, 0), (2, 1), (20, 1), (33, 1), (34, 2), (50, 2), (65, 2), (66, 3)])
def test_one_latent_draw_per_32_generated_frames_and_one_for_a_remainder(frames, draws):
    assert pose_draw_count(frames) == draws


@pytest.mark.parametrize(("frames", "seed"), [(50, 0), (20, 1)])
def test_official_draws_are_reproduced_by_the_global_seed_or_a_generator(goldens_dir, nets, frames, seed):
    """The goldens' z were recorded from torch.randn after torch.manual_seed(meta torch_seed)."""
    golden, ref_pose = _pose_golden(goldens_dir, frames)
    assert golden.meta["torch_seed"] == seed
    mels, style = golden["indiv_mels"], golden["class"]
    injected = sample_pose_motion(nets.posevae, mels, ref_pose, style, z=golden["z"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        global_rng = sample_pose_motion(nets.posevae, mels, ref_pose, style)
    generator = sample_pose_motion(nets.posevae, mels, ref_pose, style, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(injected, golden["pose_motion_pred"], atol=1e-4, rtol=0)
    assert torch.equal(global_rng, injected) and torch.equal(generator, injected)


def test_wrong_number_of_draws_is_refused(nets):
    with pytest.raises(ValueError, match=r"z must be \(2, 1, 64\) for 50 frames"):
        sample_pose_motion(nets.posevae, _mels(50), torch.zeros(1, 6), torch.tensor([0]), z=torch.zeros(1, 1, 64))


def test_frame_0_is_the_reference_and_a_single_frame_needs_no_draw(nets):
    motion = sample_pose_motion(nets.posevae, _mels(1), torch.zeros(1, 6), torch.tensor([0]), z=torch.zeros(0, 1, 64))
    assert motion.shape == (1, 1, 6) and not motion.any()


def test_full_chunk_then_remainder_from_the_last_32_windows(nets):
    """T = 50: frames 1..32 come from windows 1..32 and z[0]; frames 33..49 are the last 17 of the
    chunk decoded from windows 18..49 with z[1]."""
    mels, ref, style = _mels(50), torch.full((1, 6), 0.2), torch.tensor([3])
    z = torch.randn(2, 1, 64, generator=torch.Generator().manual_seed(2))
    motion = sample_pose_motion(nets.posevae, mels, ref, style, z=z)
    assert motion.shape == (1, 50, 6) and not motion[:, 0].any()

    first = nets.posevae.decode(z[0], style, ref, nets.posevae.encode_audio(mels[:, 1:33]))
    last = nets.posevae.decode(z[1], style, ref, nets.posevae.encode_audio(mels[:, 18:50]))
    torch.testing.assert_close(motion[:, 1:33], first, atol=1e-5, rtol=0)
    torch.testing.assert_close(motion[:, 33:], last[:, -17:], atol=1e-5, rtol=0)

    other_z1 = sample_pose_motion(nets.posevae, mels, ref, style, z=torch.stack([z[0], -z[1]]))
    assert torch.equal(other_z1[:, :33], motion[:, :33]) and not torch.allclose(other_z1[:, 33:], motion[:, 33:])


def test_fewer_than_32_windows_are_left_padded_with_the_first_embedding(nets):
    """T = 20: one remainder draw; the 19 window embeddings are padded to 32 by repeating the first."""
    mels, ref, style = _mels(20), torch.zeros(1, 6), torch.tensor([0])
    z = torch.randn(1, 1, 64, generator=torch.Generator().manual_seed(3))
    motion = sample_pose_motion(nets.posevae, mels, ref, style, z=z)
    emb = nets.posevae.encode_audio(mels[:, 1:])
    padded = torch.cat([emb[:, :1].repeat(1, 13, 1), emb], dim=1)
    expected = nets.posevae.decode(z[0], style, ref, padded)[:, -19:]
    torch.testing.assert_close(motion[:, 1:], expected, atol=1e-5, rtol=0)


# --- smoothing -------------------------------------------------------------------------------


@pytest.mark.parametrize(("frames", "window"), [(50, 13), (13, 13), (12, 11), (7, 7), (3, 3)])
def test_pose_is_smoothed_with_savitzky_golay_13_2_shrunk_for_short_videos(frames, window):
    pose = torch.randn(1, frames, 6, generator=torch.Generator().manual_seed(frames))
    expected = savgol_filter(pose.numpy(), window, 2, axis=1)
    np.testing.assert_array_equal(smooth_pose(pose).numpy(), expected)


def test_smoothing_keeps_quadratic_motion_and_leaves_one_or_two_frames_alone():
    t = torch.arange(30, dtype=torch.float64)[:, None]
    quadratic = (0.01 * t**2 - 0.2 * t + 1).repeat(1, 6)
    torch.testing.assert_close(smooth_pose(quadratic), quadratic)
    for frames in (1, 2):
        pose = torch.randn(frames, 6)
        assert torch.equal(smooth_pose(pose), pose)


# --- the whole audio -> motion step ----------------------------------------------------------


def test_make_motion_reproduces_the_official_coefficients(goldens_dir, nets):
    golden = load_golden(goldens_dir / "audio2coeff_generate_T50.safetensors")
    blink = golden["ratio_gt"][0, :, 0]
    motion = make_motion(nets, golden["indiv_mels"], golden["ref"][0, 0], MotionOptions(pose_style=int(golden["class"][0])),
                         z=golden["z"], blink_ratio=blink)
    assert motion.num_frames == 50 and motion.fps == 25 and torch.equal(motion.blink, blink)
    coeff = motion.coeff_70()
    assert coeff.shape == (50, 70)
    torch.testing.assert_close(coeff, golden["coeff_3dmm"], atol=1e-4, rtol=0)
    assert torch.equal(coeff[:, :64], motion.expression) and torch.equal(coeff[:, 64:], motion.pose)


def test_the_golden_blink_ratio_is_the_seeded_random_schedule(goldens_dir, nets):
    """The recorded blink condition is what ``MotionOptions(seed=0)`` draws (random.seed(0) in the
    official run), so the injected ratio and the user's option give the same motion."""
    golden = load_golden(goldens_dir / "audio2coeff_generate_T50.safetensors")
    args = (nets, golden["indiv_mels"], golden["ref"][0, 0])
    drawn = make_motion(*args, MotionOptions(pose_style=3, seed=0), z=golden["z"])
    injected = make_motion(*args, MotionOptions(pose_style=3), z=golden["z"], blink_ratio=golden["ratio_gt"][0, :, 0])
    assert torch.equal(drawn.blink, injected.blink) and torch.equal(drawn.coeff_70(), injected.coeff_70())


def test_a_reference_video_replaces_the_source_expression_and_the_random_blinks(nets):
    """Per-frame β0 from a reference (e.g. a blink video) drives ExpNet; no random schedule then."""
    mels = _mels(12)
    source = torch.randn(1, 73, generator=torch.Generator().manual_seed(4)) * 0.3
    still = source[0, :64].repeat(12, 1)
    blinking = still.clone()
    blinking[5:] += 0.5
    plain = make_expression(nets.expnet, mels, source, "off")
    same = make_expression(nets.expnet, mels, source, reference=Motion(still, torch.zeros(12, 6)))
    driven = make_expression(nets.expnet, mels, source, "random", seed=1, reference=Motion(blinking, torch.zeros(12, 6)))
    torch.testing.assert_close(same.expression, plain.expression)
    torch.testing.assert_close(driven.expression[:5], plain.expression[:5])
    assert not torch.allclose(driven.expression[5:], plain.expression[5:])
    assert plain.blink is None and driven.blink is None


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"options": MotionOptions(pose_style=46)}, SettingError,
     r"pose_style 46: the loaded PoseVAE has 46 styles, 0..45; choose one of them"),
    ({"blink_ratio": torch.zeros(7)}, ValueError, r"blink must be \(12,\)"),
    ({"source_coeff": torch.zeros(5, 70)}, ValueError, r"one face's, \(70,\) / \(73,\)"),
    ({"mels": torch.zeros(12, 80, 16)}, ValueError, r"mels must be \(1, T, 1, 80, 16\)"),
])
def test_bad_inputs_are_refused_clearly(nets, kwargs, error, message):
    args = {"mels": _mels(12), "source_coeff": torch.zeros(70), **kwargs}
    with pytest.raises(error, match=message):
        make_motion(nets, **args)


def test_motion_checks_its_shapes():
    with pytest.raises(ValueError, match="same T"):
        Motion(expression=torch.zeros(5, 64), pose=torch.zeros(4, 6))
    with pytest.raises(ValueError, match="blink"):
        Motion(expression=torch.zeros(5, 64), pose=torch.zeros(5, 6), blink=torch.zeros(4))


def test_expnet_and_posevae_compute_float32_in_float32_even_where_the_caller_allows_tf32(nets):
    mels = _mels(3)
    with tf32_seen_by(nets.expnet, nets.posevae.audio_encoder) as seen:
        predict_expression(nets.expnet, mels, torch.zeros(1, 3, 64), torch.zeros(1, 3, 1))
        sample_pose_motion(nets.posevae, mels, torch.zeros(1, 6), torch.tensor([0]), z=torch.zeros(1, 1, 64))
    assert seen == [False, False]
