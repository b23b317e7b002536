"""Stage registrations: tolerances by output name pattern, media found in the given folders."""
from __future__ import annotations

import pytest

from conformance import STAGES, StageContext
from conformance.registry import EXACT, Stage, Tolerance


def test_tolerances_follow_name_patterns_not_pictures_or_thresholds():
    croper, retinaface = STAGES["croper"], STAGES["retinaface"]
    assert croper.tolerance("any_picture_quad") == Tolerance(abs=1e-9)
    assert croper.tolerance("slot7_cropped_still_uint8") == EXACT
    assert croper.tolerance("slot7_lm68") is None and croper.reads("slot7_lm68")
    assert retinaface.tolerance("dets_thr0p5") == Tolerance(abs=1e-3)
    assert retinaface.tolerance("cand_idx_thr0p123") == EXACT


def test_an_output_matching_two_patterns_is_a_registration_error():
    stage = Stage("toy", handler=lambda golden, ctx: {}, outputs={"a_*": EXACT, "*_b": EXACT})
    with pytest.raises(ValueError, match="several patterns"):
        stage.tolerance("a_b")


def test_media_named_by_meta_are_searched_in_every_folder_in_order(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    (second / "face.png").write_bytes(b"x")
    ctx = StageContext(tmp_path, (first, second))
    assert ctx.media("media/face.png, cv2.imread + COLOR_BGR2RGB") == second / "face.png"
    (first / "face.png").write_bytes(b"y")
    assert ctx.media("media/face.png via cv2.imread (BGR)") == first / "face.png"
    with pytest.raises(FileNotFoundError, match="'other.png' not found in: .*first.*second.*--media"):
        ctx.media("media/other.png")
