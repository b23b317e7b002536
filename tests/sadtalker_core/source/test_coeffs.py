"""Splitting the 257 coefficients and building the 73-d source vector."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sadtalker_core.source.coeffs import SOURCE_COEFF_DIMS, Coeffs3DMM, source_coeffs


def _ramp(batch: int = 2) -> torch.Tensor:
    return torch.arange(batch * 257, dtype=torch.float32).reshape(batch, 257)


def test_split_follows_the_official_slices():
    full = _ramp()
    c = Coeffs3DMM.split(full)
    assert torch.equal(c.id, full[:, :80])
    assert torch.equal(c.exp, full[:, 80:144])
    assert torch.equal(c.tex, full[:, 144:224])
    assert torch.equal(c.angle, full[:, 224:227])
    assert torch.equal(c.gamma, full[:, 227:254])
    assert torch.equal(c.trans, full[:, 254:257])
    assert torch.equal(c.full(), full)


@pytest.mark.parametrize("shape", [(257,), (1, 256), (1, 73)])
def test_split_rejects_other_shapes(shape):
    with pytest.raises(ValueError, match="257"):
        Coeffs3DMM.split(torch.zeros(shape))


def test_source_vector_layout():
    full = _ramp(batch=2)
    trans_params = np.array([256, 256, 1.6358, 125.03, 160.63], dtype=np.float32)
    src = source_coeffs(Coeffs3DMM.split(full), trans_params)
    assert src.shape == (2, SOURCE_COEFF_DIMS) and src.dtype == torch.float32
    assert torch.equal(src[:, :64], full[:, 80:144])
    assert torch.equal(src[:, 64:67], full[:, 224:227])
    assert torch.equal(src[:, 67:70], full[:, 254:257])
    assert torch.equal(src[:, 70:], torch.from_numpy(trans_params[2:]).expand(2, 3))


def test_source_vector_takes_per_row_tensor_params():
    trans_params = torch.tensor([[256, 256, 1.0, 2.0, 3.0], [512, 512, 4.0, 5.0, 6.0]])
    src = source_coeffs(Coeffs3DMM.split(_ramp(batch=2)), trans_params)
    assert src[:, 70:].tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
