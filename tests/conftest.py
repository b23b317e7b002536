"""Fixtures of the whole suite: the repository's test data (``tests/data``), fake official checkpoints
made once per session, and a local HTTP file server for the download tests.

The fake checkpoints are written by ``conformance.fake_weights`` (the documented rule the goldens
were produced with) into a session temp dir, or into ``$SADTALKER_FAKE_WEIGHTS_DIR`` when set
(files already there are reused: handy when running the suite repeatedly).
"""
from __future__ import annotations

import os
from pathlib import Path

import plugin_package
import pytest
from file_server import FileServer, serving
from paths import CORE_FILES, GOLDENS, MEDIA

from conformance.fake_weights import write_fake_checkpoint

# the node tests import the plugin folder as ComfyUI does, as one package: comfyui_sadtalker.nodes...
plugin_package.load()


class FakeCheckpoints:
    """Writes fake official files on first request and remembers where they are."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, name: str) -> Path:
        target = self.folder / name
        if not target.is_file():
            write_fake_checkpoint(name, target)
        return target


@pytest.fixture(scope="session")
def fake_checkpoints(tmp_path_factory) -> FakeCheckpoints:
    folder = os.environ.get("SADTALKER_FAKE_WEIGHTS_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("fake_checkpoints")
    path.mkdir(parents=True, exist_ok=True)
    return FakeCheckpoints(path)


@pytest.fixture(scope="session")
def weights_dir(fake_checkpoints) -> Path:
    """A folder holding every fake official checkpoint the core needs."""
    for name in CORE_FILES:
        fake_checkpoints.path(name)
    return fake_checkpoints.folder


@pytest.fixture()
def server() -> FileServer:
    """A local HTTP file server (127.0.0.1) for download tests: no test touches the internet."""
    with serving() as state:
        yield state


@pytest.fixture(scope="session")
def goldens_dir() -> Path:
    return GOLDENS


@pytest.fixture(scope="session")
def media_dir() -> Path:
    return MEDIA


@pytest.fixture(scope="session")
def native_precision() -> str:
    """The quicker precision this CPU computes natively: ``fast`` (bfloat16) on CPUs with AVX512-BF16 /
    AMX, else ``exact``: emulated bfloat16 would be many times slower than float32."""
    from sadtalker_core.precision import reduced_dtype

    return "fast" if reduced_dtype("cpu") is not None else "exact"
