"""What each trainer reads, checked before the first step: one error lists every problem.

A trainer's ``Task.missing_inputs(config)`` returns one line per file problem, built with the
helpers below: the prepared data, files that must be given (and, for official files, hold the
networks the trainer needs, e.g. the head-pose estimator MappingNet is trained against), files
that may be given but must then exist.  ``Task.setting_problems(config)`` adds settings that do
not fit the data (PoseVAE's style slots and the speakers).  :func:`raise_if_problems` turns the
lines into one :class:`CannotStart` error; when files are among them it also says how to set and
fetch them.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from sadtalker_core.checkpoints import CheckpointError, layout_for
from sadtalker_core.errors import InputError

from ..data.shards import TARGETS_DIR, Manifest, target_path

DOWNLOAD = "python -m sadtalker_core download DIR --training"
#: what each commonly needed file is and where it comes from
VGG19_FILE = ("torchvision's VGG-19 ImageNet weights vgg19-dcbb9e9d.pth, for the perceptual loss "
              f"({DOWNLOAD} fetches it)")
RENDERER_FILE = ("facevid2vid_00189-model.pth.tar: the official face renderer with its head-pose estimator "
                 f"({DOWNLOAD} fetches it), or the one train_facevid2vid exported")
AUDIO_ENCODER_FILE = (f"Wav2Lip's wav2lip.pth ({DOWNLOAD} fetches it) or an official SadTalker file, for the "
                      "audio encoder")


class CannotStart(InputError):
    """A trainer cannot start: files it reads are not set, not there or not the right ones, or its
    settings do not fit the prepared data."""


def data_problems(folder: str | os.PathLike) -> list[str]:
    """The prepared data folder (``run.data``) must hold a manifest this code reads."""
    try:
        Manifest.load(folder)
    except InputError as exc:
        return [f"run.data: {exc}"]
    return []


def file_problems(key: str, value: str, what: str, required: bool = True, holds: Sequence[str] = ()) -> list[str]:
    """Config entry ``key`` = ``value`` names ``what``: it must be set when ``required``, exist when
    set, and (``holds``) be an official file holding those sections."""
    if not value:
        return [f"{key}: not set; give {what}"] if required else []
    path = Path(value)
    if not path.is_file():
        return [f"{key}: {path} not found; give {what}"]
    if holds:
        try:
            layout = layout_for(path)
        except CheckpointError:
            return [f"{key}: {path.name} is not an official SadTalker file name; give {what}"]
        absent = [section for section in holds if section not in layout.sections]
        if absent:
            return [f"{key}: a {path.name} holds no {', '.join(absent)} weights; give {what}"]
    return []


def targets_problems(data: str | os.PathLike, targets: str | os.PathLike = "") -> list[str]:
    """ExpNet's lip-only targets: a file for every prepared clip (in ``targets``, default
    ``<data>/targets``)."""
    try:
        clips = Manifest.load(data).clips
    except InputError:
        return []  # reported by data_problems
    folder = Path(targets) if targets else Path(data) / TARGETS_DIR
    missing = [clip.clip_id for clip in clips if not target_path(folder, clip.clip_id).is_file()]
    if not missing:
        return []
    return [f"targets: {folder} has no lip-only targets for {len(missing)} of {len(clips)} clips (e.g. "
            f"{', '.join(missing[:3])}); make them with python -m training.data.teacher {data} --wav2lip wav2lip.pth "
            "--recon SadTalker_V0.0.2_256.safetensors"]


def raise_if_problems(trainer: str, files: Sequence[str], settings: Sequence[str] = ()) -> None:
    """One :class:`CannotStart` listing every file and setting problem (nothing when there is none)."""
    problems = [*files, *settings]
    if not problems:
        return
    listed = "\n".join(f"  - {problem}" for problem in problems)
    advice = (f"\nSet the files in the config file or with --set KEY=PATH; {DOWNLOAD} fetches the downloadable "
              "ones." if files else "")
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    raise CannotStart(f"{trainer} cannot start ({count}):\n{listed}{advice}")
