"""AWing FAN: official keys, strict loading, coordinate channels, point decoding quirks, 98 -> 68 map."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from paths import MANIFESTS
from tf32_probe import tf32_seen_by

from sadtalker_core.checkpoints import CheckpointError
from sadtalker_core.networks.awing_fan import (
    AwingFAN,
    CoordConv,
    calculate_points,
    coordinate_channels,
    crop_landmarks98,
    fan_image,
    fan_input,
    landmark_98_to_68,
    load_awing_fan,
    points_in_crop,
)

FILE = "alignment_WFLW_4HG.pth"


def test_state_dict_matches_manifest():
    manifest = json.loads((MANIFESTS / f"{FILE}.json").read_text())["tensors"]
    expected = {k.removeprefix("state_dict."): v["shape"] for k, v in manifest.items()}
    assert {k: list(v.shape) for k, v in AwingFAN().state_dict().items()} == expected


def test_loads_strictly_from_the_official_file(fake_checkpoints):
    path = fake_checkpoints.path(FILE)
    net = load_awing_fan(path)
    official = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    for key, value in net.state_dict().items():
        assert torch.equal(value, official[key]), key
    assert not net.training


def test_file_without_fan_weights_is_refused(fake_checkpoints):
    with pytest.raises(CheckpointError, match="awing_fan"):
        load_awing_fan(fake_checkpoints.path("epoch_20.pth"))


def test_coordinate_channels_are_row_then_column_then_radius():
    rows, cols, radius = coordinate_channels(5, torch.device("cpu"))
    ramp = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert torch.equal(rows[0, 0, :, 3], ramp) and torch.equal(rows[0, 0, 2], torch.zeros(5))
    assert torch.equal(cols[0, 0, 1], ramp)
    assert radius.max() == 1 and radius[0, 0, 2, 2] == 0


def test_coordconv_masks_coordinates_with_the_previous_boundary_map():
    conv = CoordConv(4, 1, 6, 1, with_boundary=True)
    with torch.no_grad():
        conv.conv.weight.copy_(torch.eye(6).view(6, 6, 1, 1))
        conv.conv.bias.zero_()
    heatmaps = torch.zeros(1, 3, 4, 4)
    heatmaps[0, -1, 1, 2] = 0.06  # > 0.05: on the boundary
    heatmaps[0, -1, 3, 0] = 0.04  # not
    heatmaps[0, 0] = 1.0  # a landmark map: ignored
    out = conv(torch.full((1, 1, 4, 4), 7.0), heatmaps)
    rows, cols, radius = coordinate_channels(4, torch.device("cpu"))
    assert torch.equal(out[0, 0], torch.full((4, 4), 7.0))
    assert torch.equal(out[0, 1:4], torch.cat([rows, cols, radius], 1)[0])
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[1, 2] = True
    assert torch.equal(out[0, 4], torch.where(mask, rows[0, 0], 0.0))
    assert torch.equal(out[0, 5], torch.where(mask, cols[0, 0], 0.0))
    without = CoordConv(4, 1, 4, 1)
    assert without.conv.in_channels == 4 and without(torch.zeros(2, 1, 4, 4)).shape == (2, 4, 4, 4)


def test_fan_image_is_a_256_bgr_resize():
    crop = np.zeros((10, 20, 3), dtype=np.uint8)
    crop[...] = (1, 2, 3)
    image = fan_image(crop)
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    assert (image == (3, 2, 1)).all()
    x = fan_input(crop)
    assert x.shape == (1, 3, 256, 256) and torch.equal(x[0, :, 0, 0], torch.tensor([3.0, 2.0, 1.0]) / 255)


def _peak_map(row: int, col: int) -> np.ndarray:
    """A 64x64 map with its maximum (1.0) at (row, col), larger right and upper neighbours."""
    heat = np.zeros((64, 64), dtype=np.float32)
    heat[row, col] = 1.0
    flat = heat.reshape(-1)
    index = row * 64 + col
    flat[(index + 1) % 4096] = 0.5
    flat[index - 1] = 0.1
    if index + 64 < 4096:
        flat[index + 64] = 0.1  # below
    if index - 64 >= 0:
        flat[index - 64] = 0.3  # above
    return heat


def test_points_move_a_quarter_pixel_towards_the_larger_neighbours():
    points = calculate_points(_peak_map(10, 20)[None, None])
    assert points.dtype == np.float64 and points.shape == (1, 1, 2)
    assert points[0, 0].tolist() == [20 + 0.25 + 0.5, 10 - 0.25 + 0.5]


def test_a_peak_on_the_last_row_makes_every_map_use_the_last_element_below():
    interior = _peak_map(10, 20)
    interior[63, 63] = 0.9  # the last element, larger than the value above the peak
    alone = calculate_points(interior[None, None])[0, 0]
    together = calculate_points(np.stack([interior, _peak_map(63, 5)])[None])[0]
    assert alone[1] == 10.25 and together[0, 1] == 10.75
    assert together[0, 0] == alone[0]


def test_a_peak_near_the_top_makes_every_map_use_the_first_element_above():
    interior = _peak_map(10, 20)
    interior[0, 0] = -1.0  # the first element, below the value under the peak
    together = calculate_points(np.stack([interior, _peak_map(1, 0)])[None])[0]  # flat index 64: 64 - 64 <= 0
    assert calculate_points(interior[None, None])[0, 0, 1] == 10.25
    assert together[0, 1] == 10.75


def test_flat_neighbours_wrap_at_the_ends():
    first = np.zeros((64, 64), dtype=np.float32)
    first[0, 0] = 1.0
    first[63, 63] = 0.5  # flat[-1], the "left" neighbour of index 0
    last = np.zeros((64, 64), dtype=np.float32)
    last[63, 63] = 1.0
    last[0, 0] = 0.5  # no index 4096: the "right" neighbour wraps to index 0
    points = calculate_points(np.stack([first, last])[None])[0]
    assert points[0, 0] == 0 - 0.25 + 0.5 and points[1, 0] == 63 + 0.25 + 0.5


def test_points_in_crop_scale_heatmap_pixels_to_the_crop():
    points = points_in_crop(_peak_map(10, 20)[None, None], crop_height=128, crop_width=32)
    assert points.tolist() == [[20.75 * 0.5, 10.25 * 2]]


def test_98_to_68_mapping():
    points98 = np.stack([np.arange(98), 2 * np.arange(98)], axis=1).astype(np.float64)
    points68 = landmark_98_to_68(points98)
    x = points68[:, 0].tolist()
    assert points68.dtype == np.float32 and points68.shape == (68, 2)
    assert x[:17] == list(range(0, 33, 2))
    assert x[17:27] == [33, 37.5, 37.5, 37.5, 37.5, 46, 46, 46, 46, 46]
    assert x[27:36] == list(range(51, 60))
    assert x[36:48] == [60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75]
    assert x[48:] == list(range(76, 96))
    assert np.array_equal(points68[:, 1], 2 * points68[:, 0])


def test_landmarks_compute_float32_in_float32_even_where_the_caller_allows_tf32():
    net = AwingFAN().eval()
    with tf32_seen_by(net) as seen:
        crop_landmarks98(net, np.zeros((40, 30, 3), np.uint8))
    assert seen == [False]
