"""The face-render goldens (mapping, kp_detector, he_estimator, keypoint_transformation,
generator, make_animation) are reproduced within tolerance."""
from __future__ import annotations

import pytest

from conformance import StageContext, load_golden, run_golden

GOLDENS = [
    "mapping_70_00229.safetensors",
    "mapping_73_00109.safetensors",
    "kp_detector.safetensors",
    "he_estimator.safetensors",
    "keypoint_transformation.safetensors",
    "generator.safetensors",
    "make_animation.safetensors",
]


@pytest.mark.parametrize("name", GOLDENS)
def test_golden_reproduced(name, weights_dir, goldens_dir, media_dir):
    report = run_golden(load_golden(goldens_dir / name), StageContext(weights_dir, (media_dir,)))
    failed = [f"{c.name}: {c.max_abs_error:.3g} > {c.limit:.3g} {c.problem}" for c in report.checks if not c.passed]
    assert report.checks and not failed, failed


def test_windows_and_keypoints_are_exact(weights_dir, goldens_dir, media_dir):
    """Cutting the coefficient windows and posing keypoints involve no learned arithmetic worth
    a tolerance: they reproduce the reference bit for bit."""
    ctx = StageContext(weights_dir, (media_dir,))
    mapping = run_golden(load_golden(goldens_dir / "mapping_73_00109.safetensors"), ctx)
    keypoints = run_golden(load_golden(goldens_dir / "keypoint_transformation.safetensors"), ctx)
    exact = {c.name: c.max_abs_error for c in mapping.checks if c.name.endswith("semantics")}
    exact.update({c.name: c.max_abs_error for c in keypoints.checks})
    assert len(exact) == 5 and not any(exact.values()), exact
