"""The face-render goldens (mapping, kp_detector, he_estimator, keypoint_transformation,
generator, make_animation) are reproduced within tolerance."""
from __future__ import annotations

import pytest
from golden_files import assert_reproduced, goldens_of


@pytest.mark.parametrize("name", goldens_of("mapping", "kp_detector", "he_estimator", "keypoint_transformation",
                                            "generator", "make_animation"))
def test_golden_reproduced(name, weights_ctx):
    assert_reproduced(name, weights_ctx)
