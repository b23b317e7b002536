"""The 3DMM-extraction goldens (align_img, face_3drecon) are reproduced within tolerance, from
their own tensors only."""
from __future__ import annotations

import pytest
from golden_files import assert_reproduced, goldens_of, judged

from conformance import load_golden


@pytest.mark.parametrize("name", goldens_of("align_img", "face_3drecon"))
def test_golden_reproduced(name, weights_ctx):
    assert_reproduced(name, weights_ctx)


def test_face_3drecon_needs_no_other_golden(weights_ctx, goldens_dir, tmp_path):
    """Alone in a folder (no align_img golden beside it) it is reproduced all the same."""
    alone = tmp_path / "face_3drecon.safetensors"
    alone.write_bytes((goldens_dir / "face_3drecon.safetensors").read_bytes())
    assert judged(load_golden(alone), weights_ctx).passed
