"""The precision setting: auto / exact / fast, made concrete per device in one place."""
from __future__ import annotations

import pytest
import torch
from tf32_probe import tf32_seen_by

from sadtalker_core import precision
from sadtalker_core.errors import SettingError
from sadtalker_core.precision import (
    Precision,
    compute_dtype,
    default_device,
    float32_arithmetic,
    reduced_dtype,
    resolve,
    tf32_allowed,
)


def test_auto_is_fast_on_a_cuda_gpu_and_exact_on_the_cpu():
    assert resolve("auto", "cpu") is Precision.EXACT
    assert resolve(Precision.AUTO, torch.device("cuda")) is Precision.FAST


@pytest.mark.parametrize("device", ["mps", "xpu", "privateuseone", torch.device("cuda", 1)])
def test_auto_is_fast_on_any_accelerator(device):
    assert resolve("auto", device) is Precision.FAST


def test_fast_is_float16_on_an_apple_gpu():
    assert reduced_dtype(torch.device("mps")) == torch.float16
    assert compute_dtype("auto", "mps") == compute_dtype("fast", "mps") == torch.float16


@pytest.mark.parametrize(("reports_bf16", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_fast_on_an_intel_gpu_is_bfloat16_where_torch_xpu_reports_it(monkeypatch, reports_bf16, expected):
    asked = []

    def is_bf16_supported(including_emulation=True):
        asked.append(including_emulation)
        return reports_bf16

    monkeypatch.setattr(torch.xpu, "is_bf16_supported", is_bf16_supported)
    assert reduced_dtype("xpu") == compute_dtype("fast", "xpu") == expected
    assert asked and set(asked) == {False}  # emulated bfloat16 does not count


def test_fast_on_an_intel_gpu_is_float16_where_torch_cannot_say(monkeypatch):
    monkeypatch.delattr(torch.xpu, "is_bf16_supported")
    assert reduced_dtype("xpu") == torch.float16
    monkeypatch.setattr(torch.xpu, "is_bf16_supported", lambda: True, raising=False)  # before the including_emulation argument
    assert reduced_dtype("xpu") == torch.bfloat16


def test_fast_is_float16_on_directml_and_other_accelerators():
    assert reduced_dtype("privateuseone") == compute_dtype("fast", "privateuseone") == torch.float16
    assert compute_dtype("exact", "privateuseone") == torch.float32


@pytest.mark.parametrize(("cuda", "xpu", "mps", "expected"), [
    (True, True, True, "cuda"), (False, True, True, "xpu"), (False, False, True, "mps"), (False, False, False, "cpu")])
def test_the_default_device_is_the_first_gpu_kind_present(monkeypatch, cuda, xpu, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.xpu, "is_available", lambda: xpu)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert default_device() == torch.device(expected)


def test_exact_is_float32_everywhere():
    assert resolve("exact", "cpu") is Precision.EXACT
    assert compute_dtype("exact", "cpu") == torch.float32


def test_the_cpu_reduced_precision_is_bfloat16_where_onednn_computes_it():
    expected = torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else None
    assert reduced_dtype("cpu") == expected


def test_fast_runs_in_the_native_reduced_precision(monkeypatch):
    monkeypatch.setattr(precision, "reduced_dtype", lambda device: torch.bfloat16)
    assert resolve("fast", "cpu") is Precision.FAST
    assert compute_dtype("fast", "cpu") == torch.bfloat16


def test_fast_is_refused_where_the_device_has_no_reduced_precision(monkeypatch):
    monkeypatch.setattr(precision, "reduced_dtype", lambda device: None)
    with pytest.raises(SettingError, match=r"precision 'fast' needs bfloat16 or float16 arithmetic.*'exact' or 'auto'"):
        resolve("fast", "cpu")


def test_an_unknown_name_is_refused():
    with pytest.raises(ValueError, match="'fp32' is not a valid Precision"):
        resolve("fp32", "cpu")


def test_float32_arithmetic_turns_tf32_off_within_and_gives_the_callers_setting_back():
    with tf32_seen_by():
        with float32_arithmetic():
            assert not tf32_allowed()
        assert tf32_allowed()
        with pytest.raises(RuntimeError, match="out of memory"), float32_arithmetic():
            raise RuntimeError("out of memory")
        assert tf32_allowed()


def test_a_caller_that_set_the_new_fp32_precision_settings_gets_them_back_unchanged():
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    saved = conv.fp32_precision, matmul.fp32_precision
    try:
        conv.fp32_precision, matmul.fp32_precision = "tf32", "tf32"  # as another node may have
        with float32_arithmetic():
            assert (conv.fp32_precision, matmul.fp32_precision) == ("ieee", "ieee")
        assert (conv.fp32_precision, matmul.fp32_precision) == ("tf32", "tf32")
    finally:
        conv.fp32_precision, matmul.fp32_precision = saved


def test_a_caller_that_set_the_legacy_flags_can_still_read_them_afterwards():
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    saved = conv.fp32_precision, matmul.fp32_precision
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
        with float32_arithmetic():
            assert not tf32_allowed()
        # reading the legacy flags after the new settings were left changed raises in recent torch
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        conv.fp32_precision, matmul.fp32_precision = saved


def test_torch_before_the_fp32_precision_settings_gets_the_legacy_flags_switched(monkeypatch):
    monkeypatch.setattr(precision, "_FP32_PRECISION_API", False)
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    saved = conv.fp32_precision, matmul.fp32_precision
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
        with float32_arithmetic():
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        conv.fp32_precision, matmul.fp32_precision = saved  # (this torch has both)
