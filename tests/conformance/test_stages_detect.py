"""The face detection / landmark goldens (retinaface, awing_fan) are reproduced within tolerance."""
from __future__ import annotations

import pytest

from conformance import StageContext, load_golden, run_golden

DETECTOR_FILES = ("detection_Resnet50_Final.pth", "alignment_WFLW_4HG.pth")


@pytest.fixture(scope="module")
def detector_weights_dir(fake_checkpoints):
    for name in DETECTOR_FILES:
        fake_checkpoints.path(name)
    return fake_checkpoints.folder


@pytest.mark.parametrize("name", ["retinaface.safetensors", "awing_fan.safetensors"])
def test_golden_reproduced(name, detector_weights_dir, goldens_dir, media_dir):
    report = run_golden(load_golden(goldens_dir / name), StageContext(detector_weights_dir, (media_dir,)))
    failed = [f"{c.name}: {c.max_abs_error:.3g} > {c.limit:.3g} {c.problem}" for c in report.checks if not c.passed]
    assert report.checks and not failed, failed
    # every output is judged, the indices and FAN points exactly (tolerance 0 in the registration)
    assert len(report.checks) == {"retinaface.safetensors": 15, "awing_fan.safetensors": 10}[name]

