"""Shard storage: face crops stored as JPEG (quality 95, the default), PNG (lossless) or raw pixels,
decoded where a sample is read (in the data loader's workers); version-1 raw shards still read."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch.utils.data import DataLoader

from sadtalker_core.errors import InputError, SettingError
from training.data.datasets import FramePairs, StepBatchSampler
from training.data.shards import ClipData, ClipShard, FrameCodec, Manifest, PreparedData, write_shard


@pytest.fixture(scope="module")
def clip(prepared) -> ClipData:
    """The first prepared clip with its (decoded) face crops: real faces in motion."""
    shard = PreparedData(prepared).shards[0]
    return ClipData(shard.frames(range(shard.num_frames)), *(shard.array(n) for n in ("coeffs", "coeffs_full",
                                                                                    "landmarks", "mels")))


def psnr(decoded: np.ndarray, reference: np.ndarray) -> float:
    mse = np.mean((decoded.astype(np.float64) - reference.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))


def test_each_codec_gives_back_the_crops_and_jpeg_is_far_smaller_than_raw(clip, tmp_path):
    sizes, frames = {}, {}
    for kind in ("raw", "png", "jpeg"):
        path = tmp_path / f"{kind}.safetensors"
        write_shard(path, clip, {"clip_id": kind}, FrameCodec(kind))
        shard = ClipShard(path)
        assert (shard.num_frames, shard.size, shard.encoded) == (34, 256, kind != "raw")
        frames[kind] = shard.frames([0, 33, 5])
        sizes[kind] = path.stat().st_size
        np.testing.assert_array_equal(shard.array("mels"), clip.mels)
    wanted = clip.frames[[0, 33, 5]]
    np.testing.assert_array_equal(frames["raw"], wanted)
    np.testing.assert_array_equal(frames["png"], wanted)  # lossless
    print(f"shard bytes: {sizes}; JPEG q95 PSNR {psnr(frames['jpeg'], wanted):.1f} dB")
    assert frames["jpeg"].shape == wanted.shape and psnr(frames["jpeg"], wanted) > 38
    assert sizes["jpeg"] * 5 < sizes["raw"] and sizes["png"] < sizes["raw"]


def test_a_lower_jpeg_quality_stores_smaller_frames(clip, tmp_path):
    write_shard(tmp_path / "q95.safetensors", clip, {}, FrameCodec("jpeg", 95))
    write_shard(tmp_path / "q70.safetensors", clip, {}, FrameCodec("jpeg", 70))
    assert (tmp_path / "q70.safetensors").stat().st_size < (tmp_path / "q95.safetensors").stat().st_size
    assert ClipShard(tmp_path / "q70.safetensors").metadata["jpeg_quality"] == "70"
    with pytest.raises(SettingError, match="'jpeg', 'png' or 'raw'"):
        FrameCodec("webp")
    with pytest.raises(SettingError, match="1..100"):
        FrameCodec("jpeg", 0)


def test_version_1_raw_shards_are_still_read(clip, tmp_path):
    """The layout the first release of ``training.data.prepare`` wrote: raw ``frames``, version 1."""
    tensors = {name: torch.from_numpy(np.ascontiguousarray(getattr(clip, name)))
               for name in ("frames", "coeffs", "coeffs_full", "landmarks", "mels")}
    (tmp_path / "clips").mkdir()
    save_file(tensors, str(tmp_path / "clips" / "old.safetensors"), metadata={"version": "1"})
    manifest = {"size": 256, "fps": 25, "version": 1, "skipped": [],
                "clips": [{"clip_id": "old", "source": "old.mp4", "speaker": "a", "frames": 34,
                           "shard": "clips/old.safetensors"}]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    data = PreparedData(tmp_path)
    assert data.manifest.version == 1 and not data.shards[0].encoded
    np.testing.assert_array_equal(data.shards[0].frames([3, 1]), clip.frames[[3, 1]])


def test_an_unknown_data_version_asks_to_prepare_again(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"size": 256, "fps": 25, "version": 7, "clips": [], "skipped": []}))
    with pytest.raises(InputError, match="version 7, this code reads 1, 2; prepare the data again"):
        Manifest.load(tmp_path)


def test_a_damaged_frame_is_a_clear_error(clip, tmp_path):
    path = tmp_path / "clip.safetensors"
    write_shard(path, clip, {}, FrameCodec("jpeg"))
    shard = ClipShard(path)
    first_frame_end = int(shard.array("frame_ends")[0])
    data = bytearray(path.read_bytes())
    header = 8 + int.from_bytes(data[:8], "little")
    offset = header + json.loads(data[8:header])["frame_bytes"]["data_offsets"][0]
    data[offset:offset + first_frame_end] = bytes(first_frame_end)  # the first JPEG wiped out
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="cannot be decoded; the shard is damaged"):
        ClipShard(path).frames([0])
    assert ClipShard(path).frames([1]).shape == (1, 256, 256, 3)


def test_data_loader_workers_decode_the_same_samples(prepared):
    dataset = FramePairs(PreparedData(prepared), seed=3, size=64)
    loader = DataLoader(dataset, batch_sampler=StepBatchSampler(4, 0, 1, 0, 2), num_workers=2)
    for step, batch in enumerate(loader):
        for row, position in enumerate(range(step * 4, step * 4 + 4)):
            expected = dataset[position]
            assert int(batch["position"][row]) == position
            for key in ("source", "driving"):
                torch.testing.assert_close(batch[key][row], expected[key])
