"""The face renderer's inputs as get_facerender_data prepares them: 27-frame coefficient windows
(clamped at the clip's ends, 73-d variant, still mode) and the source image."""
from __future__ import annotations

import pytest
import torch

from conformance import load_golden
from sadtalker_core.render.inputs import WINDOW, coefficient_windows, read_source_image


def _coeffs(frames: int = 5):
    g = torch.Generator().manual_seed(0)
    return torch.randn(1, 73, generator=g), torch.randn(frames, 70, generator=g)


def test_the_source_window_repeats_the_source_coefficients():
    source, seq = _coeffs()
    window = coefficient_windows(source, seq).source()
    assert window.shape == (1, 70, WINDOW)
    assert torch.equal(window, source[:, :70, None].expand(1, 70, WINDOW))


def test_target_window_of_frame_i_spans_i_minus_13_to_i_plus_13_clamped():
    source, seq = _coeffs(30)
    windows = coefficient_windows(source, seq)
    out = windows.targets(torch.tensor([0, 15, 29]))
    assert out.shape == (3, 70, WINDOW)
    for row, centre in enumerate((0, 15, 29)):
        for column in range(WINDOW):
            frame = min(max(centre - 13 + column, 0), 29)
            assert torch.equal(out[row, :, column], seq[frame])


def test_the_73_d_variant_appends_the_source_crop_values_to_every_frame():
    source, seq = _coeffs()
    windows = coefficient_windows(source, seq, coeff_nc=73)
    assert windows.coeff_nc == 73 and windows.source().shape == (1, 73, WINDOW)
    assert torch.equal(windows.sequence[:, :70], seq)
    assert torch.equal(windows.sequence[:, 70:], source[:, 70:].expand(5, 3))


def test_still_mode_keeps_the_source_pose_and_the_inputs_untouched():
    source, seq = _coeffs()
    source_before, seq_before = source.clone(), seq.clone()
    windows = coefficient_windows(source, seq, coeff_nc=73, still=True)
    assert torch.equal(windows.sequence[:, :64], seq[:, :64])
    assert torch.equal(windows.sequence[:, 64:], source[:, 64:].expand(5, 9))
    assert torch.equal(source, source_before) and torch.equal(seq, seq_before)


def test_wrong_coefficient_counts_are_rejected():
    source, seq = _coeffs()
    with pytest.raises(ValueError, match="73-d mapping"):
        coefficient_windows(source[:, :70], seq, coeff_nc=73)
    with pytest.raises(ValueError, match="coefficient sequence"):
        coefficient_windows(source, seq[:, :64])


def test_source_image_is_read_and_resized_like_the_reference(media_dir, goldens_dir):
    image = read_source_image(media_dir / "people_0.png")
    golden = load_golden(goldens_dir / "kp_detector.safetensors")["source_image"]
    assert image.dtype == torch.float32 and image.shape == (1, 3, 256, 256)
    torch.testing.assert_close(image, golden, rtol=0, atol=1e-6)
