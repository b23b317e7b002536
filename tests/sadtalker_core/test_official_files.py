"""The one registry of official files: what the README, the ComfyUI registry manifest and the
folder kinds say agrees with it."""
from __future__ import annotations

import re
from pathlib import PurePosixPath

from paths import REPO

from sadtalker_core.official_files import (
    BACKGROUND_FILE,
    DETECTOR_FILES,
    ENHANCER_ALIASES,
    MODEL_SUFFIXES,
    OFFICIAL_FILES,
    PARSER_FILE,
    RENDER_SIZES,
    FolderKind,
    files_of,
    gigabytes,
    markdown_table,
    sadtalker_files,
)

README = (REPO / "README.md").read_text()


def test_the_readme_table_of_model_files_is_the_registrys():
    inference = [spec for spec in OFFICIAL_FILES.values() if spec.default or not spec.training]
    assert markdown_table(inference) in README
    assert all(spec.holds and spec.needed_for for spec in OFFICIAL_FILES.values())


def test_the_readme_training_table_marks_the_files_download_training_fetches():
    marked = set(re.findall(r"^\| ⬇ `([^`]+)`", README, flags=re.M))
    assert marked == {spec.name for spec in OFFICIAL_FILES.values() if spec.training}


def test_the_comfy_registry_manifest_lists_the_default_files_in_their_folders():
    """pyproject.toml's [tool.comfy] Models cannot import the registry; it must list the same files."""
    pyproject = (REPO / "pyproject.toml").read_text()  # (tomllib is Python 3.11+; the project supports 3.10)
    models = pyproject[pyproject.index("\nModels = ["):]
    models = models[:models.index("\n]")]
    listed = set(re.findall(r'\{ location = "([^"]+)", model_url = "([^"]+)" \}', models))
    assert len(listed) == models.count("location")
    assert listed == {(f"/models/{spec.folder.value}/{spec.name}", spec.url)
                      for spec in OFFICIAL_FILES.values() if spec.default}


def test_folder_kinds_and_names_agree_with_what_the_loaders_use():
    assert [spec.name for spec in files_of(FolderKind.FACE_DETECTION)] == [*DETECTOR_FILES, PARSER_FILE]
    assert [spec.name for spec in files_of(FolderKind.UPSCALE)] == [BACKGROUND_FILE]
    enhancers = files_of(FolderKind.FACE_RESTORE)
    assert sorted(ENHANCER_ALIASES.values()) == sorted(spec.name for spec in enhancers)
    assert set(ENHANCER_ALIASES) == {"gfpgan", "restoreformer", "codeformer"}  # official --enhancer names, lowered
    assert all(PurePosixPath(spec.name).suffix in MODEL_SUFFIXES for spec in enhancers)
    needed = sadtalker_files(RENDER_SIZES)
    assert all(OFFICIAL_FILES[name].folder is FolderKind.SADTALKER for name in needed)
    assert gigabytes(sadtalker_files((256,))) == "1.0 GB"  # the bundle and both MappingNets
