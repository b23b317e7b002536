"""The crop and paste-back goldens are reproduced, and so is any golden of these kinds: other
frames, other pictures in the croper's slots, pictures found only in another media folder."""
from __future__ import annotations

import shutil

import pytest
from golden_files import assert_reproduced, goldens_of, judged, variant

from conformance import StageContext, load_golden


@pytest.mark.parametrize("name", goldens_of("croper", "paste_pic"))
def test_golden_reproduced(name, media_ctx):
    assert_reproduced(name, media_ctx)


@pytest.mark.parametrize("frame", [0, 1])
def test_one_frame_paste_golden_uses_its_own_frame(frame, goldens_dir, media_ctx, tmp_path):
    golden = load_golden(goldens_dir / "paste_pic_extfull.safetensors")
    one = variant(golden, tmp_path / "one_frame.safetensors", {
        "rendered_rgb_uint8": golden["rendered_rgb_uint8"][frame:frame + 1],
        "out_roi_bgr": golden["out_roi_bgr"][frame:frame + 1],
    })
    report = judged(one, media_ctx)
    assert report.passed, report.failures()
    assert report.compared == 6


def test_croper_slots_hold_whatever_pictures_its_meta_names(goldens_dir, media_ctx, tmp_path):
    """Slot names are not file names: here slot ``people_0`` holds full_body_1.png and a slot
    named ``portrait`` holds people_0.png."""
    golden = load_golden(goldens_dir / "croper.safetensors")
    swapped = {}
    for name, tensor in golden.tensors.items():
        if name.startswith("full_body_1_"):
            swapped["people_0_" + name.removeprefix("full_body_1_")] = tensor
        else:
            swapped["portrait_" + name.removeprefix("people_0_")] = tensor
    renamed = variant(golden, tmp_path / "croper_swapped.safetensors", swapped, drop=tuple(golden.tensors),
                      source_pics={"people_0": "media/full_body_1.png", "portrait": "media/people_0.png"})
    report = judged(renamed, media_ctx)
    assert report.passed, report.failures()
    assert report.compared == 12 and {c.name for c in report.checks} >= {"people_0_quad", "portrait_quad"}


def test_croper_slot_without_a_picture_in_meta_is_refused(goldens_dir, media_ctx, tmp_path):
    golden = load_golden(goldens_dir / "croper.safetensors")
    partial = variant(golden, tmp_path / "croper_partial.safetensors", source_pics={"people_0": "media/people_0.png"})
    with pytest.raises(ValueError, match="source_pics.*full_body_1"):
        judged(partial, media_ctx)


def test_paste_picture_found_only_in_another_media_folder(goldens_dir, media_dir, tmp_path):
    extra = tmp_path / "more_media"
    extra.mkdir()
    shutil.copy(media_dir / "full_body_1.png", extra / "someone_else.jpg")
    golden = variant(load_golden(goldens_dir / "paste_pic.safetensors"), tmp_path / "paste_other.safetensors",
                     full_pic="media/someone_else.jpg via cv2.imread (BGR)")
    report = judged(golden, StageContext(tmp_path, (media_dir, extra)))
    assert report.passed and report.compared == 6, report.failures()
    with pytest.raises(FileNotFoundError, match="someone_else.jpg"):
        judged(golden, StageContext(tmp_path, (media_dir,)))


def test_golden_missing_an_output_fails(goldens_dir, media_ctx, tmp_path):
    golden = variant(load_golden(goldens_dir / "paste_pic.safetensors"), tmp_path / "paste_short.safetensors",
                     drop=("out_roi_bgr",))
    report = judged(golden, media_ctx)
    assert not report.passed
    assert report.failures() == ["out_roi_bgr: the golden lacks this output"]
    assert report.compared == 5


def test_paste_differing_by_more_than_one_level_fails(goldens_dir, media_ctx, tmp_path):
    """seamlessClone may differ by 1 across CPUs; by 2 it is a failure."""
    golden = load_golden(goldens_dir / "paste_pic.safetensors")
    out = golden["out_roi_bgr"].clone()
    out[0, 100, 100, 0] = out[0, 100, 100, 0] + 2 if out[0, 100, 100, 0] < 200 else out[0, 100, 100, 0] - 2
    report = judged(variant(golden, tmp_path / "paste_off.safetensors", {"out_roi_bgr": out}), media_ctx)
    assert [c.name for c in report.checks if not c.passed] == ["out_roi_bgr"]
    assert next(c for c in report.checks if c.name == "out_roi_bgr").max_abs_error == 2
