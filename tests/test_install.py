"""``pip install .`` (or ``-e .``) gives a ``sadtalker`` command and the library package, and nothing
else at the top level (``training/`` runs from a checkout: an installed top-level ``training``
would claim a name any other project may use): checked on a wheel built from a copy of the
project (a build writes build/ and *.egg-info beside the sources)."""
from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import EntryPoint

from paths import REPO

import sadtalker_core.cli


def test_a_wheel_of_the_project_has_the_sadtalker_command_and_only_the_library_with_its_data(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for package in ("sadtalker_core", "training"):  # training is in the source, and must stay out of the wheel
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        scripts = configparser.ConfigParser()
        scripts.read_string(archive.read(entry_points).decode())

    assert dict(scripts["console_scripts"]) == {"sadtalker": "sadtalker_core.cli:main"}
    command = EntryPoint("sadtalker", scripts["console_scripts"]["sadtalker"], "console_scripts")
    assert command.load() is sadtalker_core.cli.main
    assert {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")} == {
        "sadtalker_core"}
    assert {"sadtalker_core/cli/__init__.py", "sadtalker_core/__main__.py", "sadtalker_core/assets/portrait.png",
            "sadtalker_core/assets/speech.wav"} <= set(names)
