"""A reference video's expressions as ExpNet's per-frame β0 (official ``--ref_eyeblink``)."""
from __future__ import annotations

import pytest
import torch

from sadtalker_core.motion.expression import reference_coeff, reference_expression


def _rows(count: int, width: int) -> torch.Tensor:
    """Row i holds i + column / 100, so a resampled row tells which frame it came from."""
    return torch.arange(count, dtype=torch.float32)[:, None] + torch.arange(width) / 100


def test_reference_expression_repeats_the_videos_expressions():
    ref = _rows(3, 64)
    out = reference_expression(ref, 8)
    assert out.shape == (8, 64)
    assert out[:, 0].tolist() == [0, 1, 2, 0, 1, 2, 0, 1]


def test_reference_expression_rejects_coefficient_rows():
    with pytest.raises(ValueError, match=r"ref_expression must be \(N, 64\)"):
        reference_expression(torch.zeros(3, 70), 8)


@pytest.mark.parametrize("shape", [(70,), (73,), (1, 70), (1, 73)])
def test_reference_coeff_is_source_pose_with_per_frame_reference_expressions(shape):
    source = torch.arange(73, dtype=torch.float32)[: shape[-1]].reshape(shape) + 1000
    ref = _rows(3, 64)
    out = reference_coeff(source, ref, 5)
    assert out.shape == (5, 70)
    assert torch.equal(out[:, :64], ref[[0, 1, 2, 0, 1]])
    assert torch.equal(out[:, 64:], source.reshape(-1)[64:70].expand(5, 6))


@pytest.mark.parametrize("shape", [(64,), (2, 73), (1, 1, 73)])
def test_reference_coeff_rejects_other_than_one_face(shape):
    with pytest.raises(ValueError, match="source coefficients must be one face's"):
        reference_coeff(torch.zeros(shape), torch.zeros(3, 64), 5)
