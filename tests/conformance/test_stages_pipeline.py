"""The end-to-end golden (``inference.py`` main: picture + speech -> frames) is reproduced in full:
crop, landmarks in the crop, 3DMM source coefficients, mel windows, blinks, the motion
coefficients and every rendered frame."""
from __future__ import annotations

import pytest
from golden_files import assert_reproduced, goldens_of

from conformance import load_golden
from conformance.stages_pipeline import RunSettings, run_settings


def test_run_settings_come_from_the_golden_meta(goldens_dir):
    assert run_settings(load_golden(goldens_dir / "inference_e2e.safetensors")) == RunSettings("crop", 256, 2, 0)


@pytest.mark.parametrize("name", goldens_of("inference_e2e"))
def test_golden_reproduced(name, weights_ctx):
    assert_reproduced(name, weights_ctx)
