"""RetinaFace: official keys, loading with / without ``module.``, priors, decoding, selection and NMS."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import OrderedDict

import facexlib_reference
import numpy as np
import pytest
import torch
from facexlib_reference import TIE_THRESHOLD, ours_and_facexlib, tied_scores_case
from paths import MANIFESTS, REPO
from tf32_probe import tf32_seen_by
from torchvision.ops import nms as torchvision_nms

from conformance import load_golden
from sadtalker_core.checkpoints import CheckpointError
from sadtalker_core.networks.retinaface import (
    PIXEL_MEAN,
    DecodedDetections,
    RawDetections,
    RetinaFace,
    decode,
    detector_input,
    load_retinaface,
    nms,
    prior_boxes,
    select,
)

FILE = "detection_Resnet50_Final.pth"


@pytest.fixture(scope="module")
def detection_file(fake_checkpoints):
    return fake_checkpoints.path(FILE)


@pytest.fixture(scope="module")
def net(detection_file):
    return load_retinaface(detection_file)


def test_state_dict_matches_manifest_without_module_prefix():
    manifest = json.loads((MANIFESTS / f"{FILE}.json").read_text())["tensors"]
    expected = {k.removeprefix("module."): v["shape"] for k, v in manifest.items()}
    assert all(k.startswith("module.") for k in manifest)
    assert {k: list(v.shape) for k, v in RetinaFace().state_dict().items()} == expected


def test_loads_with_and_without_module_prefix_and_batch_counters(detection_file, net, tmp_path):
    official = torch.load(detection_file, map_location="cpu", weights_only=True)
    stripped = OrderedDict(
        (k.removeprefix("module."), v) for k, v in official.items() if not k.endswith("num_batches_tracked")
    )
    assert len(stripped) < len(official)
    path = tmp_path / FILE
    torch.save(stripped, path)
    plain = load_retinaface(path)
    for key, value in net.state_dict().items():
        assert torch.equal(value, official[f"module.{key}"]), key
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(plain.state_dict()[key], value), key
    assert not net.training and not plain.training


def test_file_without_detector_weights_is_refused(fake_checkpoints):
    with pytest.raises(CheckpointError, match="retinaface"):
        load_retinaface(fake_checkpoints.path("epoch_20.pth"))


def test_input_keeps_channel_order_and_subtracts_the_bgr_mean():
    image = np.zeros((2, 3, 3), dtype=np.uint8)
    image[0, 1] = (10, 200, 255)
    x = detector_input(image)
    assert x.shape == (1, 3, 2, 3) and x.dtype == torch.float32
    assert x[0, :, 0, 1].tolist() == [10 - PIXEL_MEAN[0], 200 - PIXEL_MEAN[1], 255 - PIXEL_MEAN[2]]


def test_priors_are_level_row_column_size_ordered():
    priors = prior_boxes(20, 36)
    levels = [(3, 5, (16, 32), 8), (2, 3, (64, 128), 16), (1, 2, (256, 512), 32)]  # ceil(20/s), ceil(36/s)
    assert priors.shape == (sum(r * c * 2 for r, c, _, _ in levels), 4)
    start = 0
    for rows, cols, sizes, step in levels:
        level = priors[start:start + rows * cols * 2].view(rows, cols, 2, 4)
        start += rows * cols * 2
        i, j = rows - 1, cols - 1
        expected = [[(j + 0.5) * step / 36, (i + 0.5) * step / 20, s / 36, s / 20] for s in sizes]
        assert torch.equal(level[i, j], torch.tensor(expected, dtype=torch.float32))
    assert float(priors.max()) > 1  # not clipped


def test_decode_of_zero_offsets_gives_the_priors_in_pixels():
    priors = prior_boxes(40, 64)
    n = priors.shape[0]
    raw = RawDetections(torch.zeros(1, n, 4), torch.zeros(1, n, 2), torch.zeros(1, n, 10))
    decoded = decode(raw, priors, 40, 64)
    cx, cy, w, h = (priors[:, k] for k in range(4))
    expected = torch.stack([(cx - w / 2) * 64, (cy - h / 2) * 40, (cx + w / 2) * 64, (cy + h / 2) * 40], 1)
    assert torch.allclose(decoded.boxes, expected, atol=1e-3)
    assert torch.equal(decoded.landmarks[:, 8:], torch.stack([cx * 64, cy * 40], 1))
    assert torch.equal(decoded.scores, torch.full((n,), 0.5))


def _decoded(boxes: list[list[float]], scores: list[float]) -> DecodedDetections:
    n = len(scores)
    landmarks = torch.arange(n * 10, dtype=torch.float32).view(n, 10)
    return DecodedDetections(torch.tensor(boxes, dtype=torch.float32), landmarks, torch.tensor(scores))


def test_select_is_strict_sorts_and_suppresses():
    decoded = _decoded(
        [[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 10], [20, 0, 30, 10]],
        [0.75, 0.875, 0.9375, 0.5, 0.984375],
    )
    chosen = select(decoded, 0.75)  # 0.75 itself is not above the threshold
    assert chosen.candidates.tolist() == [4, 2, 1]
    assert chosen.keep.tolist() == [0, 1, 2]
    assert chosen.dets.shape == (3, 15) and chosen.dets.dtype == np.float32
    assert chosen.dets[:, 4].tolist() == [0.984375, 0.9375, 0.875]
    assert chosen.dets[2, 5:].tolist() == list(range(10, 20))
    overlapping = select(decoded, 0.25)  # boxes 0 and 3 overlap box 1 with IoU 9/11 > 0.4
    assert overlapping.candidates.tolist() == [4, 2, 1, 0, 3]
    assert overlapping.keep.tolist() == [0, 1, 2]


def test_select_of_nothing_gives_an_empty_detection_array():
    chosen = select(_decoded([[0, 0, 10, 10]], [0.5]), 0.97)
    assert chosen.dets.shape == (0, 15) and chosen.candidates.size == 0 and chosen.keep.size == 0


def test_nms_iou_has_no_plus_one_and_a_strict_threshold():
    # IoU of these two = 4 / (8 + 8 - 4) = 1/3 (it would differ with +1 areas)
    boxes = torch.tensor([[0, 0, 4, 2], [2, 0, 6, 2]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8])
    assert nms(boxes, scores, 0.34).tolist() == [0, 1]
    assert nms(boxes, scores, 0.33).tolist() == [0]
    assert nms(boxes[[1, 0]], scores[[1, 0]], 0.33).tolist() == [1]


def test_nms_matches_torchvision_on_random_boxes():
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(300, 2, generator=generator) * 100
    sizes = torch.rand(300, 2, generator=generator) * 40 + 1
    boxes = torch.cat([corners, corners + sizes], 1)
    scores = torch.rand(300, generator=generator)
    for threshold in (0.1, 0.4, 0.7):
        assert torch.equal(nms(boxes, scores, threshold), torchvision_nms(boxes, scores, threshold))


def test_tied_scores_come_out_in_facexlibs_order():
    """Thousands of candidates sharing four scores: candidates, NMS keep list and detections are
    facexlib's (``argsort()[::-1]``, then torchvision's NMS), which a stable sort would not give:
    among tied, overlapping boxes the order decides which survive."""
    boxes, _, scores = tied_scores_case()
    result = ours_and_facexlib()
    official = result["facexlib"]
    assert len(official["candidates"]) > 3000 and len(official["keep"]) > 100
    assert result["ours"] == official  # indices, and detections copied from the inputs
    stable = np.argsort(-scores, kind="stable")
    stable = stable[scores[stable] > TIE_THRESHOLD]
    stable_keep = torchvision_nms(torch.from_numpy(boxes[stable]), torch.from_numpy(scores[stable]), 0.4).numpy()
    assert stable.tolist() != official["candidates"]
    assert set(stable[stable_keep]) != set(np.array(official["candidates"])[official["keep"]])


def _dispatched_cpu_features() -> list[str]:
    """The CPU features above its baseline that numpy found here and may pick kernels for."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return [feature for feature in __cpu_dispatch__ if __cpu_features__.get(feature)]


def test_tied_scores_keep_facexlibs_order_with_other_numpy_sort_kernels():
    """numpy's sort kernel, and with it the order of tied scores, depends on the CPU: with every
    kernel above numpy's baseline switched off, as on an older CPU, ours still equals facexlib's."""
    env = dict(os.environ, NPY_DISABLE_CPU_FEATURES=" ".join(_dispatched_cpu_features()),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, facexlib_reference.__file__], env=env, capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert len(result["facexlib"]["candidates"]) > 3000
    assert result["ours"] == result["facexlib"]


def test_detect_reproduces_the_golden_detections(net, goldens_dir):
    golden = load_golden(goldens_dir / "retinaface.safetensors")
    dets = net.detect(golden["image_rgb_uint8"].numpy())
    assert dets.shape == golden["dets_thr0p97"].shape
    assert np.abs(dets - golden["dets_thr0p97"].numpy()).max() < 1e-3
    assert dets[0, 4] == dets[:, 4].max()


def test_detection_computes_float32_in_float32_even_where_the_caller_allows_tf32(net):
    with tf32_seen_by(net) as seen:
        net.detect(np.zeros((64, 48, 3), np.uint8))
    assert seen == [False]
