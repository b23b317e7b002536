"""batch_size 0: the largest render step that fits the device's free memory."""
from __future__ import annotations

import pytest
import torch

from sadtalker_core.errors import DeviceMemoryError, InputError
from sadtalker_core.pipeline import RenderOptions
from sadtalker_core.precision import Precision
from sadtalker_core.render.batch_size import (
    CPU_BATCH_SIZE,
    HEADROOM,
    MAX_BATCH_SIZE,
    UNKNOWN_FREE_BYTES,
    auto_batch_size,
    frame_bytes,
    free_bytes,
)

GPU = torch.device("cuda")  # named only: the sizes are computed from a given free memory, nothing runs on it


def test_on_the_cpu_auto_is_the_cpu_rule_whatever_the_memory():
    assert auto_batch_size(512, Precision.EXACT, "cpu", free=1) == CPU_BATCH_SIZE == 1


def test_a_frame_costs_more_at_512_than_at_256():
    assert frame_bytes(512, Precision.EXACT, GPU) == 4 * frame_bytes(256, Precision.EXACT, GPU)


@pytest.mark.parametrize("size", [256, 512])
def test_on_a_gpu_auto_is_the_most_frames_that_fit_the_free_memory(size):
    per_frame = frame_bytes(size, Precision.EXACT, GPU)
    room_for_ten = int(10 * per_frame / HEADROOM) + 1
    assert auto_batch_size(size, Precision.EXACT, GPU, free=room_for_ten) == 10
    assert auto_batch_size(size, Precision.EXACT, GPU, free=room_for_ten - per_frame) == 9
    assert auto_batch_size(size, Precision.EXACT, GPU, free=1000 * room_for_ten) == MAX_BATCH_SIZE


def test_too_little_memory_for_one_frame_names_the_need():
    per_frame = frame_bytes(512, Precision.EXACT, GPU)
    with pytest.raises(DeviceMemoryError, match=r"size 512 \(exact precision\) needs about .* GiB free on cuda for "
                                                r"one frame, but 0\.00 GiB are free"):
        auto_batch_size(512, Precision.EXACT, GPU, free=per_frame // 1000)


def test_render_options_take_zero_for_auto_and_refuse_less():
    assert RenderOptions(batch_size=0).batch_size == 0
    with pytest.raises(InputError, match="batch_size must be >= 1 \\(or 0: as many as fit the device's memory\\), "
                                         "got -1"):
        RenderOptions(batch_size=-1)


GiB = 2**30


@pytest.fixture
def no_cuda_calls(monkeypatch):
    """Any CUDA memory call fails: the other devices must not make one."""
    def refuse(*args, **kwargs):
        raise AssertionError("a CUDA memory call for a device that is not CUDA")
    for name in ("mem_get_info", "memory_reserved", "memory_allocated"):
        monkeypatch.setattr(torch.cuda, name, refuse)


def test_an_intel_gpu_reports_its_free_memory_through_torch_xpu(monkeypatch, no_cuda_calls):
    """Stand-in xpu backend: 3 GiB free per the driver, 1 GiB cached by PyTorch of which 0.25 GiB in use."""
    monkeypatch.setattr(torch.xpu, "mem_get_info", lambda device: (3 * GiB, 16 * GiB))
    monkeypatch.setattr(torch.xpu, "memory_reserved", lambda device: GiB)
    monkeypatch.setattr(torch.xpu, "memory_allocated", lambda device: GiB // 4)
    xpu = torch.device("xpu")
    assert free_bytes(xpu) == 3 * GiB + GiB - GiB // 4
    per_frame = frame_bytes(256, Precision.EXACT, xpu)
    assert auto_batch_size(256, Precision.EXACT, xpu) == int(free_bytes(xpu) * HEADROOM) // per_frame


def test_an_apple_gpu_has_what_metal_recommends_less_what_the_tensors_hold(monkeypatch, no_cuda_calls):
    monkeypatch.setattr(torch.mps, "recommended_max_memory", lambda: 10 * GiB)
    monkeypatch.setattr(torch.mps, "current_allocated_memory", lambda: 4 * GiB)
    mps = torch.device("mps")
    assert free_bytes(mps) == 6 * GiB
    per_frame = frame_bytes(512, Precision.FAST, mps)  # float16 on mps: half the float32 frame
    assert per_frame == frame_bytes(512, Precision.EXACT, mps) // 2
    assert auto_batch_size(512, Precision.FAST, mps) == int(6 * GiB * HEADROOM) // per_frame


@pytest.mark.parametrize("device", ["privateuseone", "xpu", "mps"])
def test_a_device_that_cannot_report_its_memory_is_taken_to_have_the_conservative_default(
        monkeypatch, no_cuda_calls, device):
    """DirectML (privateuseone) has no memory call; an older PyTorch lacks the xpu / mps ones."""
    for module, name in [(torch.xpu, "mem_get_info"), (torch.mps, "recommended_max_memory")]:
        monkeypatch.delattr(module, name, raising=False)
    assert free_bytes(torch.device(device)) == UNKNOWN_FREE_BYTES
    assert auto_batch_size(256, Precision.EXACT, device) == int(UNKNOWN_FREE_BYTES * HEADROOM) // frame_bytes(
        256, Precision.EXACT, device)
    assert auto_batch_size(512, Precision.EXACT, device) == 1  # the default fits one float32 frame at 512
