"""Motion files: exact round trips through safetensors / npz / .mat, the official .mat layouts,
and errors that name the bad file."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from scipy.io import loadmat, savemat

from sadtalker_core.motion.files import (
    FORMAT_VERSION,
    MotionFileError,
    load_motion,
    motion_from_coeffs,
    read_coeff_mat,
    save_motion,
    write_coeff_mat,
)
from sadtalker_core.motion.sequences import Motion


def _motion(frames: int = 9, blink: bool = True, dtype: torch.dtype = torch.float32, fps: int = 30) -> Motion:
    gen = torch.Generator().manual_seed(frames)
    return Motion(
        expression=torch.randn(frames, 64, generator=gen).to(dtype),
        pose=torch.randn(frames, 6, generator=gen).to(dtype),
        fps=fps,
        blink=torch.rand(frames, generator=gen).to(dtype) if blink else None,
    )


def _assert_same(a: Motion, b: Motion) -> None:
    assert torch.equal(a.expression, b.expression) and a.expression.dtype == b.expression.dtype
    assert torch.equal(a.pose, b.pose) and a.pose.dtype == b.pose.dtype
    assert a.fps == b.fps
    assert (a.blink is None) == (b.blink is None)
    if a.blink is not None:
        assert torch.equal(a.blink, b.blink) and a.blink.dtype == b.blink.dtype


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize("blink", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_motion_round_trip_is_exact(tmp_path, suffix, blink, dtype):
    motion = _motion(blink=blink, dtype=dtype)
    path = tmp_path / f"motion{suffix}"
    save_motion(motion, path)
    _assert_same(load_motion(path), motion)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_safetensors_metadata_names_format_version_and_fps(tmp_path):
    from safetensors import safe_open

    path = tmp_path / "m.safetensors"
    save_motion(_motion(fps=24), path)
    with safe_open(path, framework="pt") as handle:
        assert handle.metadata() == {"format": "sadtalker-motion", "format_version": str(FORMAT_VERSION), "fps": "24"}


def test_suffix_is_case_insensitive(tmp_path):
    path = tmp_path / "m.NPZ"
    save_motion(_motion(), path)
    _assert_same(load_motion(path), _motion())


def test_mat_round_trip_is_exact_for_float32_motion_at_25_fps(tmp_path):
    motion = _motion(blink=False, fps=25)
    path = tmp_path / "pic##audio.mat"
    save_motion(motion, path)
    _assert_same(load_motion(path), motion)


def test_mat_is_the_official_generated_motion_layout(tmp_path):
    motion = _motion(blink=True)
    path = tmp_path / "m.mat"
    save_motion(motion, path)
    entries = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
    assert list(entries) == ["coeff_3dmm"]
    assert entries["coeff_3dmm"].dtype == np.float32
    np.testing.assert_array_equal(entries["coeff_3dmm"], motion.coeff_70().numpy())
    loaded = load_motion(path)
    assert loaded.fps == 25 and loaded.blink is None  # not stored in the official layout


# --- official coefficient files ---------------------------------------------------------------


def test_reads_an_official_video_3dmm_file(tmp_path):
    coeff = np.random.default_rng(0).standard_normal((5, 73)).astype(np.float32)
    full = np.random.default_rng(1).standard_normal((1, 257)).astype(np.float32)
    path = tmp_path / "ref_video.mat"
    savemat(path, {"coeff_3dmm": coeff, "full_3dmm": full})
    read = read_coeff_mat(path)
    assert read.dtype == torch.float32 and torch.equal(read, torch.from_numpy(coeff))
    motion = load_motion(path)
    assert torch.equal(motion.expression, read[:, :64]) and torch.equal(motion.pose, read[:, 64:70])


def test_reads_float64_coefficients_as_float32(tmp_path):
    coeff = np.linspace(-1, 1, 70)[None]
    path = tmp_path / "first.mat"
    savemat(path, {"coeff_3dmm": coeff})
    read = read_coeff_mat(path)
    assert read.dtype == torch.float32 and torch.equal(read, torch.from_numpy(coeff.astype(np.float32)))


def test_writes_the_official_first_frame_layout(tmp_path):
    source = torch.randn(1, 73)
    full = torch.randn(1, 257)
    path = tmp_path / "pic.mat"
    write_coeff_mat(path, source, full)
    entries = loadmat(path)
    np.testing.assert_array_equal(entries["coeff_3dmm"], source.numpy())
    np.testing.assert_array_equal(entries["full_3dmm"], full.numpy())
    assert torch.equal(read_coeff_mat(path, widths=(73,)), source)


def test_motion_from_coeffs_splits_expression_and_pose():
    coeff = torch.arange(2 * 73, dtype=torch.float32).reshape(2, 73)
    motion = motion_from_coeffs(coeff, fps=30)
    assert torch.equal(motion.expression, coeff[:, :64]) and torch.equal(motion.pose, coeff[:, 64:70])
    assert motion.fps == 30 and motion.blink is None
    with pytest.raises(ValueError, match=r"\(N, 70\) or \(N, 73\)"):
        motion_from_coeffs(torch.zeros(2, 64))


# --- errors name the file ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gone.safetensors", "gone.npz", "gone.mat"])
def test_missing_file(tmp_path, name):
    with pytest.raises(MotionFileError, match=f"{name}: file not found"):
        load_motion(tmp_path / name)


def test_unknown_suffix_names_file_and_formats(tmp_path):
    with pytest.raises(MotionFileError, match=r"m\.json: unknown motion file type.*\.safetensors, \.npz, \.mat"):
        save_motion(_motion(), tmp_path / "m.json")
    with pytest.raises(MotionFileError, match=r"m\.pt: unknown motion file type"):
        load_motion(tmp_path / "m.pt")


@pytest.mark.parametrize("name", ["bad.safetensors", "bad.npz", "bad.mat"])
def test_garbage_bytes(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"this is not a motion file at all" * 4)
    with pytest.raises(MotionFileError, match=f"{name}: not a readable"):
        load_motion(path)


def test_mat_without_coeff_key(tmp_path):
    path = tmp_path / "other.mat"
    savemat(path, {"landmarks": np.zeros((2, 68))})
    with pytest.raises(MotionFileError, match=r"other\.mat: no 'coeff_3dmm' entry \(found: landmarks\)"):
        load_motion(path)


@pytest.mark.parametrize("shape", [(4, 71), (4, 64), (0, 70)])
def test_mat_with_wrong_coeff_shape(tmp_path, shape):
    path = tmp_path / "wrong.mat"
    savemat(path, {"coeff_3dmm": np.zeros(shape, dtype=np.float32)})
    with pytest.raises(MotionFileError, match=r"wrong\.mat: 'coeff_3dmm' must be numbers shaped \(N, 70\) or \(N, 73\)"):
        read_coeff_mat(path)


def test_generated_motion_file_given_where_a_source_face_is_needed(tmp_path):
    path = tmp_path / "motion.mat"
    save_motion(_motion(fps=25), path)
    with pytest.raises(MotionFileError, match=r"motion\.mat: .*shaped \(N, 73\) with N >= 1, got float32 \(9, 70\)"):
        read_coeff_mat(path, widths=(73,))


def test_write_coeff_mat_rejects_wrong_width(tmp_path):
    with pytest.raises(ValueError, match=r"c\.mat: coeff_3dmm must be \(N, 70\) or \(N, 73\)"):
        write_coeff_mat(tmp_path / "c.mat", torch.zeros(3, 257))
    assert not list(tmp_path.iterdir())


def test_safetensors_without_motion_metadata(tmp_path):
    path = tmp_path / "weights.safetensors"
    save_file({"expression": torch.zeros(2, 64), "pose": torch.zeros(2, 6)}, path)
    with pytest.raises(MotionFileError, match=r"weights\.safetensors: not a SadTalker motion file"):
        load_motion(path)


def test_newer_format_version_asks_for_an_update(tmp_path):
    path = tmp_path / "future.safetensors"
    meta = {"format": "sadtalker-motion", "format_version": str(FORMAT_VERSION + 1), "fps": "25"}
    save_file({"expression": torch.zeros(2, 64), "pose": torch.zeros(2, 6)}, path, metadata=meta)
    with pytest.raises(MotionFileError, match=r"future\.safetensors: motion format version .* update"):
        load_motion(path)


def test_missing_tensor_is_named(tmp_path):
    path = tmp_path / "half.safetensors"
    meta = {"format": "sadtalker-motion", "format_version": "1", "fps": "25"}
    save_file({"expression": torch.zeros(2, 64)}, path, metadata=meta)
    with pytest.raises(MotionFileError, match=r"half\.safetensors: missing pose \(found: expression\)"):
        load_motion(path)


def test_npz_with_mismatched_frames(tmp_path):
    path = tmp_path / "mismatch.npz"
    np.savez(path, expression=np.zeros((3, 64)), pose=np.zeros((2, 6)), format=np.array("sadtalker-motion"),
             format_version=np.array(1), fps=np.array(25))
    with pytest.raises(MotionFileError, match=r"mismatch\.npz: Motion needs expression"):
        load_motion(path)


@pytest.mark.parametrize("fps", ["0", "x"])
def test_bad_fps(tmp_path, fps):
    path = tmp_path / "fps.safetensors"
    meta = {"format": "sadtalker-motion", "format_version": "1", "fps": fps}
    save_file({"expression": torch.zeros(2, 64), "pose": torch.zeros(2, 6)}, path, metadata=meta)
    with pytest.raises(MotionFileError, match=r"fps\.safetensors: fps must be a positive whole number"):
        load_motion(path)
