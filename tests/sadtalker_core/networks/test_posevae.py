"""PoseVAE: the whole official ``audio2pose`` section (encoder, decoder, discriminator) loads
strictly, and each part computes what the official ``Audio2Pose`` does."""
from __future__ import annotations

import json

import pytest
import torch
from paths import MANIFESTS

from sadtalker_core.checkpoints import read_section
from sadtalker_core.networks.posevae import CVAEOutput, PoseVAE, load_posevae

BUNDLE = "SadTalker_V0.0.2_256.safetensors"


@pytest.fixture(scope="module")
def posevae(weights_dir) -> PoseVAE:
    return load_posevae(weights_dir / BUNDLE)


def test_parameter_names_and_shapes_are_the_official_audio2pose_keys():
    manifest = json.loads((MANIFESTS / f"{BUNDLE}.json").read_text())["tensors"]
    official = {k.removeprefix("audio2pose."): v["shape"] for k, v in manifest.items() if k.startswith("audio2pose.")}
    ours = {k: list(v.shape) for k, v in PoseVAE().state_dict().items()}
    assert ours == official and len(ours) == 419
    assert {k.split(".")[0] for k in ours} == {"audio_encoder", "netG", "netD_motion"}
    assert ours["netG.encoder.classbias"] == ours["netG.decoder.classbias"] == [46, 64]


@pytest.mark.parametrize("name", [BUNDLE, "auido2pose_00140-model.pth"])
def test_weights_load_unchanged_from_the_bundle_and_the_legacy_file(weights_dir, name):
    net = load_posevae(weights_dir / name)
    state = read_section(weights_dir / name, "audio2pose")
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert not net.training and not any(p.requires_grad for p in net.parameters())


def _mels(batch: int, frames: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, frames, 1, 80, 16, generator=torch.Generator().manual_seed(seed)) * 8 - 4


def test_audio_embeddings_follow_the_official_time_major_stacking(posevae):
    """The official encoder stacks windows time-major (cat over t) and reads back (B, T, 512)."""
    mels = _mels(2, 3)
    official_order = torch.cat([mels[:, t] for t in range(3)], dim=0)
    expected = posevae.audio_encoder.audio_encoder(official_order).reshape(2, -1, 512)
    torch.testing.assert_close(posevae.encode_audio(mels), expected, atol=1e-6, rtol=0)
    single = _mels(1, 4)
    per_frame = torch.cat([posevae.encode_audio(single[:, t:t + 1]) for t in range(4)], dim=1)
    torch.testing.assert_close(posevae.encode_audio(single), per_frame, atol=1e-5, rtol=0)


def test_decoder_turns_one_latent_draw_into_32_frames_of_motion(posevae):
    audio_emb = posevae.encode_audio(_mels(1, 32))
    z, ref = torch.randn(1, 64, generator=torch.Generator().manual_seed(3)), torch.full((1, 6), 0.1)
    motion = posevae.decode(z, torch.tensor([3]), ref, audio_emb)
    assert motion.shape == (1, 32, 6) and torch.isfinite(motion).all()


def test_pose_style_is_a_learnt_bias_added_to_the_latent(posevae):
    audio_emb = posevae.encode_audio(_mels(1, 32))
    z, ref = torch.randn(1, 64, generator=torch.Generator().manual_seed(4)), torch.zeros(1, 6)
    bias = posevae.netG.decoder.classbias
    as_style_5 = posevae.decode(z, torch.tensor([5]), ref, audio_emb)
    shifted = posevae.decode(z + bias[5] - bias[0], torch.tensor([0]), ref, audio_emb)
    torch.testing.assert_close(as_style_5, shifted, atol=1e-5, rtol=0)
    assert not torch.allclose(as_style_5, posevae.decode(z, torch.tensor([0]), ref, audio_emb), atol=1e-4)


def test_training_pass_encodes_samples_and_decodes(posevae):
    """Official quirk kept: logvar comes from ``linear_means`` too, so it equals mu."""
    audio_emb = posevae.encode_audio(_mels(2, 32))
    motion = torch.randn(2, 32, 6, generator=torch.Generator().manual_seed(5)) * 0.1
    style, ref, eps = torch.tensor([1, 7]), torch.zeros(2, 6), torch.randn(2, 64)
    out = posevae.netG(motion, style, ref, audio_emb, eps=eps)
    assert isinstance(out, CVAEOutput) and out.motion.shape == (2, 32, 6)
    torch.testing.assert_close(out.logvar, out.mu)
    torch.testing.assert_close(out.z, out.mu + eps * torch.exp(0.5 * out.logvar))
    torch.testing.assert_close(out.motion, posevae.decode(out.z, style, ref, audio_emb))


def test_discriminator_scores_motion_at_a_quarter_of_the_frame_rate(posevae):
    logits = posevae.netD_motion(torch.randn(3, 32, 6))
    assert logits.shape == (3, 8) and torch.isfinite(logits).all()
