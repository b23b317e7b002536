"""The audio -> motion goldens (audio, audio2exp, audio2pose, audio2coeff) are reproduced within tolerance."""
from __future__ import annotations

import pytest
from golden_files import assert_reproduced, goldens_of


@pytest.mark.parametrize("name", goldens_of("audio", "audio2exp", "audio2pose", "audio2coeff"))
def test_golden_reproduced(name, weights_ctx):
    assert_reproduced(name, weights_ctx)
