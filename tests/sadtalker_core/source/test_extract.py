"""Extraction of one aligned face: input conversion, regressor call and the 73-d vector."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tf32_probe import tf32_seen_by

from sadtalker_core.networks.recon_net import ReconNet, load_recon_net
from sadtalker_core.source.align import AlignedFace, TransParams, align_face
from sadtalker_core.source.extract import extract_3dmm, recon_input


def test_recon_input_matches_reference_rounding(goldens_dir):
    """uint8 / 255 in float64, then float32: bit-equal to the golden's network input."""
    golden = load_file(goldens_dir / "face_3drecon.safetensors")
    aligned = load_file(goldens_dir / "align_img.safetensors")["aligned_uint8"].numpy()
    assert torch.equal(recon_input(aligned), golden["image"])


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((224, 224, 3), dtype=np.float32),
        np.zeros((256, 256, 3), dtype=np.uint8),
        np.zeros((3, 224, 224), dtype=np.uint8),
        np.zeros((224, 224), dtype=np.uint8),
        torch.zeros(224, 224, 3, dtype=torch.uint8),
    ],
    ids=["float", "wrong-size", "chw", "gray", "tensor"],
)
def test_recon_input_rejects_wrong_images(image):
    with pytest.raises(ValueError, match=r"\(224, 224, 3\)"):
        recon_input(image)


def test_extract_3dmm_wires_regressor_output_into_source_vector():
    net = ReconNet().eval()
    for head in net.final_layers:
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.normal_(head.bias, generator=torch.Generator().manual_seed(1))
    expected_full = torch.cat([head.bias.detach() for head in net.final_layers])[None]
    face = AlignedFace(np.full((224, 224, 3), 128, np.uint8), np.zeros((5, 2)), TransParams(256, 256, 1.5, 120.25, 150.5))
    result = extract_3dmm(net, face)
    assert torch.equal(result.full, expected_full)
    expected_source = torch.cat([
        expected_full[:, 80:144], expected_full[:, 224:227], expected_full[:, 254:257], torch.tensor([[1.5, 120.25, 150.5]]),
    ], dim=1)
    assert torch.equal(result.source, expected_source)


def test_68_point_path_matches_end_to_end_golden(goldens_dir, fake_checkpoints):
    """The end-to-end golden's first_coeff_3dmm: its 256 crop with 68 detected landmarks
    (image coordinates) -> align_face -> extract_3dmm."""
    golden = load_file(goldens_dir / "inference_e2e.safetensors")
    net = load_recon_net(fake_checkpoints.path("SadTalker_V0.0.2_256.safetensors"))
    face = align_face(golden["crop_pic_uint8"].numpy(), golden["landmarks68_crop256"][0].numpy())
    result = extract_3dmm(net, face)
    assert (result.source - golden["first_coeff_3dmm"]).abs().max() < 1e-4


def test_the_regressor_computes_float32_in_float32_even_where_the_caller_allows_tf32():
    net = ReconNet().eval()
    face = AlignedFace(np.full((224, 224, 3), 128, np.uint8), np.zeros((5, 2)), TransParams(256, 256, 1.0, 128.0, 128.0))
    with tf32_seen_by(net) as seen:
        extract_3dmm(net, face)
    assert seen == [False]
