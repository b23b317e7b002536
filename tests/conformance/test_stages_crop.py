"""The crop and paste-back goldens (croper, paste_pic, paste_pic_extfull) are reproduced exactly."""
from __future__ import annotations

import pytest

from conformance import StageContext, load_golden, run_golden

EXPECTED_CHECKS = {"croper": 12, "paste_pic": 7, "paste_pic_extfull": 7}


@pytest.mark.parametrize("name", sorted(EXPECTED_CHECKS))
def test_golden_reproduced(name, goldens_dir, media_dir, tmp_path):
    """No weights are involved: any folder serves as weights dir."""
    report = run_golden(load_golden(goldens_dir / f"{name}.safetensors"), StageContext(tmp_path, (media_dir,)))
    failed = [f"{c.name}: {c.max_abs_error:.3g} > {c.limit:.3g} {c.problem}" for c in report.checks if not c.passed]
    assert len(report.checks) == EXPECTED_CHECKS[name] and not failed, failed
    assert all(c.max_abs_error <= 1e-9 for c in report.checks)
