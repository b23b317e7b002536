"""``download DIR``: the official files (or those of a registry set by the test) fetched from a local
HTTP server, one ``error:`` line and status 2 for a problem."""
from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from sadtalker_core.cli.download import main
from sadtalker_core.io import download as dl
from sadtalker_core.official_files import ModelFile

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_command_line_downloads_the_selection_with_overrides(server, tmp_path, monkeypatch, capsys):
    server.files.update({"a.pth": PAYLOAD, "b.pth": b"bee"})
    registry = {spec.name: spec for spec in (server.spec("a.pth"), server.spec("b.pth"))}
    monkeypatch.setattr(dl, "OFFICIAL_FILES", registry)

    assert main([str(tmp_path), "--only", "a.pth", "--sha256", f"a.pth={sha(PAYLOAD)}", "--no-progress"]) == 0
    assert "downloaded" in capsys.readouterr().out and names(tmp_path) == ["a.pth", "a.pth.sha256"]

    assert main([str(tmp_path), "--only", "b.pth", "--sha256", f"b.pth={sha(b'wasp')}", "--no-progress"]) == 2
    assert f"error: {server.base}/b.pth gave a corrupt b.pth" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path), "--sha256", "no-equals-sign"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == ("error: argument --sha256: expected NAME=HEX, got 'no-equals-sign' "
                                       "(see python -m sadtalker_core download --help)\n")


def test_command_line_network_error_is_one_line_and_status_2_as_for_any_bad_input(tmp_path, monkeypatch, capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = ModelFile("a.pth", f"http://127.0.0.1:{port}/a.pth")
    monkeypatch.setattr(dl, "OFFICIAL_FILES", {"a.pth": spec})
    assert main([str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach {spec.url} ") and err.count("\n") == 1
    assert names(tmp_path) == []


def test_command_line_training_fetches_the_training_files_only(server, tmp_path, monkeypatch, capsys):
    server.files.update({"bundle.safetensors": b"both", "render.pth": b"training only", "enhancer.pth": b"inference"})
    registry = {spec.name: spec for spec in (
        ModelFile("bundle.safetensors", f"{server.base}/bundle.safetensors", training=True),
        ModelFile("render.pth", f"{server.base}/render.pth", default=False, training=True),
        ModelFile("enhancer.pth", f"{server.base}/enhancer.pth"))}
    monkeypatch.setattr(dl, "OFFICIAL_FILES", registry)

    assert main([str(tmp_path / "train"), "--training", "--no-progress"]) == 0
    assert names(tmp_path / "train") == ["bundle.safetensors", "bundle.safetensors.sha256", "render.pth",
                                         "render.pth.sha256"]
    assert main([str(tmp_path / "infer"), "--no-progress"]) == 0
    assert [n for n in names(tmp_path / "infer") if not n.endswith(".sha256")] == ["bundle.safetensors", "enhancer.pth"]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--training", "--only", "render.pth"])
