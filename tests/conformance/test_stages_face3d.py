"""The 3DMM-extraction goldens (align_img, face_3drecon) are reproduced within tolerance."""
from __future__ import annotations

import pytest

from conformance import StageContext, load_golden, run_golden


@pytest.mark.parametrize("name", ["align_img.safetensors", "face_3drecon.safetensors"])
def test_golden_reproduced(name, weights_dir, goldens_dir, media_dir):
    report = run_golden(load_golden(goldens_dir / name), StageContext(weights_dir, (media_dir,)))
    failed = [f"{c.name}: {c.max_abs_error:.3g} > {c.limit:.3g} {c.problem}" for c in report.checks if not c.passed]
    assert report.checks and not failed, failed


def test_align_img_is_bit_exact(goldens_dir, weights_dir, media_dir):
    """With the same numpy / Pillow the alignment reproduces the reference exactly (up to the
    float32 storage of lm_new)."""
    report = run_golden(load_golden(goldens_dir / "align_img.safetensors"), StageContext(weights_dir, (media_dir,)))
    errors = {c.name: c.max_abs_error for c in report.checks}
    assert errors["aligned_uint8"] == 0 and errors["trans_params"] == 0
    assert errors["lm_new"] < 1e-5
