"""The face detection / landmark goldens (retinaface, awing_fan) are reproduced within tolerance,
and a retinaface golden is judged at whatever thresholds it stores."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from facexlib_reference import facexlib_selection
from golden_files import OUTPUTS_COMPARED, assert_reproduced, goldens_of, judged, variant

from conformance import StageContext, load_golden
from sadtalker_core.official_files import DETECTOR_FILES


@pytest.fixture(scope="module")
def detector_ctx(fake_checkpoints, media_dir):
    for name in DETECTOR_FILES:
        fake_checkpoints.path(name)
    return StageContext(fake_checkpoints.folder, (media_dir,))


@pytest.mark.parametrize("name", goldens_of("retinaface", "awing_fan"))
def test_golden_reproduced(name, detector_ctx):
    assert_reproduced(name, detector_ctx)


def test_selection_at_any_stored_threshold(detector_ctx, goldens_dir, tmp_path):
    """A retinaface golden that also stores the selection at 0.9 (made here with facexlib's steps
    from the golden's own decoded outputs) is judged on it too."""
    golden = load_golden(goldens_dir / "retinaface.safetensors")
    candidates, keep, dets = facexlib_selection(golden["boxes_decoded"].numpy(), golden["landms_decoded"].numpy(),
                                                golden["scores"].numpy(), 0.9, golden.meta["nms_threshold"])
    assert 36 < len(candidates) < 638  # between the stored 0.97 and 0.8 selections
    extra = {"cand_idx_thr0p9": candidates, "nms_keep_thr0p9": keep.astype(np.int64), "dets_thr0p9": dets}
    report = judged(variant(golden, tmp_path / "retinaface_0p9.safetensors",
                            {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in extra.items()}), detector_ctx)
    assert report.passed, report.failures()
    assert report.compared == OUTPUTS_COMPARED["retinaface"] + 3
    assert {c.name for c in report.checks} >= set(extra)
