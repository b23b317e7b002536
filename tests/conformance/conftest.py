"""Fixtures of the conformance tests."""
from __future__ import annotations

import pytest

from conformance import StageContext


@pytest.fixture(scope="session")
def media_ctx(media_dir, tmp_path_factory) -> StageContext:
    """For goldens that need no weights: any folder serves as weights dir."""
    return StageContext(tmp_path_factory.mktemp("no_weights"), (media_dir,))


@pytest.fixture(scope="session")
def weights_ctx(weights_dir, media_dir) -> StageContext:
    """Every fake official checkpoint of the core, and the test media."""
    return StageContext(weights_dir, (media_dir,))
