"""Download SadTalker models: the official files fetched from inside ComfyUI, only when this node runs.

The files go where the loaders look: the SadTalker networks into ``models/sadtalker``, the
official face detector into ``models/facedetection``, a face restoration model into
``models/facerestore_models``.  Fetching is the command line's (``sadtalker_core.io.download``): sha256
checks, ``.part`` files resumed after an interruption or a cancel, nothing half-written left
under a file's name; files already there are checked, not fetched again.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from comfy_api.latest import io

from ..sadtalker_core.errors import SettingError
from ..sadtalker_core.io.download import check_overrides, download_file, sha256_overrides
from ..sadtalker_core.official_files import (
    DETECTOR_FILES,
    OFFICIAL_FILES,
    RENDER_SIZES,
    FolderKind,
    ModelFile,
    files_of,
    gigabytes,
    sadtalker_files,
)
from . import comfy
from .types import schema

SIZES = {str(size): (size,) for size in RENDER_SIZES} | {" and ".join(map(str, RENDER_SIZES)): RENDER_SIZES}
ENHANCERS = ("none", *(spec.name for spec in files_of(FolderKind.FACE_RESTORE)))
#: the steps of the progress bar per file
STEPS = 1000
#: the files the node offers that have no published sha256 (their first download's hash is recorded)
UNHASHED = [name for name in (*sadtalker_files(RENDER_SIZES), *DETECTOR_FILES, *ENHANCERS[1:])
            if OFFICIAL_FILES[name].sha256 is None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Planned:
    """One official file and the model folder it goes to."""

    spec: ModelFile
    folder: Path

    @property
    def target(self) -> Path:
        return self.folder / self.spec.name


def plan(size: str, face_detector: bool, face_enhancer: str) -> list[Planned]:
    """The files the choices ask for, each with its destination folder."""
    if size not in SIZES or face_enhancer not in ENHANCERS:
        raise SettingError(f"size must be one of {list(SIZES)} and face_enhancer one of {list(ENHANCERS)}")
    wanted = sadtalker_files(SIZES[size])
    if face_detector:
        wanted += DETECTOR_FILES
    if face_enhancer != "none":
        wanted.append(face_enhancer)
    specs = [OFFICIAL_FILES[name] for name in wanted]
    return [Planned(spec, comfy.model_folders(spec.folder.value)[0]) for spec in specs]


class DownloadModels(io.ComfyNode):
    """Output node: fetches the official model files into ComfyUI's model folders when run."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "SadTalkerDownloadModels", "Download SadTalker models", "loaders",
            "Downloads the official SadTalker files into ComfyUI/models/sadtalker (and, if asked, the face detector "
            "into models/facedetection and a face restoration model into models/facerestore_models), from their "
            "release pages, when you run it, and only then. Checked for every file: the server announces its "
            "length (a transfer without Content-Length is refused) and sends all of it; the file has the release's "
            "byte size where it is known and its published sha256; the files without a published sha256 ("
            f"{', '.join(UNHASHED)}) are checked against the sha256 recorded at their first download (NAME.sha256 "
            "beside them). An interrupted or cancelled download resumes on the next run; files already there are "
            "checked, not fetched again.",
            inputs=[
                io.Combo.Input("size", options=list(SIZES), default="256", tooltip=(
                    f"Which renderer: 256 ({gigabytes(sadtalker_files((256,)))}), 512 "
                    f"({gigabytes(sadtalker_files((512,)))}) or both; each comes with both mappingNets.")),
                io.Boolean.Input("face_detector", default=True, tooltip=(
                    f"Also the official face detector, RetinaFace + FAN ({gigabytes(list(DETECTOR_FILES))}, into "
                    "models/facedetection); without it Load SadTalker models uses dlib's detector.")),
                io.Combo.Input("face_enhancer", options=list(ENHANCERS), default="none", tooltip=(
                    "A face restoration model for Face enhance, into models/facerestore_models "
                    f"(GFPGANv1.4.pth: {gigabytes(['GFPGANv1.4.pth'])}); none: no enhancer.")),
                io.String.Input("sha256", default="", multiline=True, optional=True, tooltip=(
                    "Only if a release file really changed: lines NAME=HEX with its expected sha256, replacing the "
                    "built-in size and checksum (or the first download's), as the command line's --sha256. Logged "
                    "as a warning, since a shared workflow could carry one.")),
            ],
            outputs=[],
            is_output_node=True,
        )

    @classmethod
    def fingerprint_inputs(cls, size: str, face_detector: bool, face_enhancer: str, sha256: str = "") -> str:
        """Runs again when a file was removed or changed since the last run (else ComfyUI reuses the run)."""
        states = []
        for planned in plan(size, face_detector, face_enhancer):
            stat = planned.target.stat() if planned.target.is_file() else None
            states.append(f"{planned.target}:{stat.st_size if stat else -1}:{stat.st_mtime_ns if stat else -1}")
        return "|".join(states)

    @classmethod
    def execute(cls, size: str, face_detector: bool, face_enhancer: str, sha256: str = "") -> io.NodeOutput:
        planned = plan(size, face_detector, face_enhancer)
        overrides = sha256_overrides(sha256.splitlines())
        check_overrides([p.spec for p in planned], overrides)
        for name, value in overrides.items():
            log.warning("SadTalker Download models: the sha256 input replaces the checks of %s with sha256 %s "
                        "(and no size check); clear the input unless you know the release file changed", name, value)
        update = comfy.progress_bar(STEPS * len(planned))
        report = []
        for index, item in enumerate(planned):

            def on_progress(done: int, total: int | None, start: int = STEPS * index) -> None:
                update(start + (STEPS * done // total if total else 0))
                comfy.check_interrupted()

            result = download_file(item.spec, item.folder, overrides.get(item.spec.name), on_progress=on_progress)
            update(STEPS * (index + 1))
            report.append(f"{result.action}: {result.path}")
        return io.NodeOutput(ui={"text": report})


NODES = [DownloadModels]
