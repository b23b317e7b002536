"""The audio -> motion goldens (audio, audio2exp, audio2pose, audio2coeff) are reproduced within tolerance."""
from __future__ import annotations

import pytest

from conformance import StageContext, load_golden, run_golden

#: golden -> number of outputs it is checked on
EXPECTED = {
    "audio_RD_Radio31_000": 3,
    "audio_chinese_poem1": 3,
    "audio2exp": 2,
    "audio2pose_T50": 2,
    "audio2pose_T20": 2,
    "audio2coeff_generate_T50": 1,
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_golden_reproduced(name, weights_dir, goldens_dir, media_dir):
    report = run_golden(load_golden(goldens_dir / f"{name}.safetensors"), StageContext(weights_dir, (media_dir,)))
    for check in report.checks:
        print(f"{name}: {check.name} max abs err {check.max_abs_error:.3g} (limit {check.limit:.3g})")
    failed = [f"{c.name}: {c.max_abs_error:.3g} > {c.limit:.3g} {c.problem}" for c in report.checks if not c.passed]
    assert len(report.checks) == EXPECTED[name] and report.passed, failed
