"""Golden files for the conformance tests: which there are, how many outputs each is judged on,
running one, and writing variants of them (other frames, other slots, other pictures, outputs
removed) to a temp dir."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from paths import GOLDENS
from safetensors import safe_open
from safetensors.torch import save_file

from conformance import Golden, GoldenReport, StageContext, load_golden, run_golden
from conformance.golden import stage_of

#: every reference golden -> the number of outputs the conformance tool compares on it
OUTPUTS_COMPARED = {
    "align_img": 4,
    "audio2coeff_generate_T50": 1,
    "audio2exp": 2,
    "audio2pose_T20": 2,
    "audio2pose_T50": 2,
    "audio_RD_Radio31_000": 3,
    "audio_chinese_poem1": 3,
    "awing_fan": 10,
    "croper": 12,
    "face_3drecon": 2,
    "generator": 3,
    "he_estimator": 6,
    "inference_e2e": 7,
    "keypoint_transformation": 3,
    "kp_detector": 1,
    "make_animation": 5,
    "mapping_70_00229": 12,
    "mapping_73_00109": 12,
    "paste_pic": 6,
    "paste_pic_extfull": 6,
    "retinaface": 15,
}


def golden_stages() -> dict[str, str]:
    """Name -> stage of every golden file in the shared reference folder (none if it is missing)."""
    stages = {}
    for path in sorted(GOLDENS.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            stages[path.stem] = stage_of(json.loads((f.metadata() or {}).get("meta", "{}")))
    return stages


def goldens_of(*stages: str) -> list[str]:
    """Names of the reference goldens of the given stages."""
    return [name for name, stage in golden_stages().items() if stage in stages]


def write_golden(path: Path, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
    """Write a golden file: ``tensors`` plus ``meta`` JSON in its metadata, as the reference harness did."""
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"meta": json.dumps(meta)})
    return path


def variant(golden: Golden, path: Path, tensors: dict[str, torch.Tensor] | None = None,
            drop: tuple[str, ...] = (), **meta) -> Golden:
    """``golden`` written to ``path`` without its tensors ``drop``, with ``tensors`` added (or
    replacing its own) and meta entries set."""
    merged = {**{k: v for k, v in golden.tensors.items() if k not in drop}, **(tensors or {})}
    return load_golden(write_golden(path, merged, {**golden.meta, **meta}))


def judged(golden: Golden, ctx: StageContext) -> GoldenReport:
    """Run ``golden`` and print each check (pytest shows it on failure)."""
    report = run_golden(golden, ctx)
    for check in report.checks:
        print(f"{report.golden}: {check.name} max abs err {check.max_abs_error:.3g} "
              f"(limit {check.limit:.3g}) {check.problem}")
    return report


def assert_reproduced(name: str, ctx: StageContext) -> GoldenReport:
    """Run reference golden ``name``: every output within tolerance, as many compared as pinned."""
    report = judged(load_golden(GOLDENS / f"{name}.safetensors"), ctx)
    assert report.passed, report.failures()
    counts = (report.compared, len(report.checks))
    assert counts == (OUTPUTS_COMPARED[name],) * 2, f"{name}: compared / checks {counts}, pinned {OUTPUTS_COMPARED[name]}"
    return report
