"""batch_size 0: the largest render step that fits the device's free memory."""
from __future__ import annotations

import pytest
import torch

from sadtalker_core.errors import DeviceMemoryError, InputError
from sadtalker_core.pipeline import RenderOptions
from sadtalker_core.precision import Precision
from sadtalker_core.render.batch_size import CPU_BATCH_SIZE, HEADROOM, MAX_BATCH_SIZE, auto_batch_size, frame_bytes

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
