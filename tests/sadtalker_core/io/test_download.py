"""Model downloads against a local HTTP server (127.0.0.1, Range-capable): no test touches the internet."""
from __future__ import annotations

import hashlib
import re
import socket
from pathlib import Path

import pytest

from sadtalker_core.io import download as dl
from sadtalker_core.io.download import DownloadError, download_file, partial_path, record_path
from sadtalker_core.official_files import ModelFile

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_full_download_with_matching_checksum(server, tmp_path):
    server.files["weights.pth"] = PAYLOAD
    result = download_file(server.spec("weights.pth", sha256=sha(PAYLOAD)), tmp_path, progress=False)

    assert (result.action, result.sha256) == ("downloaded", sha(PAYLOAD))
    assert result.path.read_bytes() == PAYLOAD
    assert names(tmp_path) == ["weights.pth"]  # no partial file; no record when the hash is known


def test_checksum_mismatch_deletes_the_download_and_says_so(server, tmp_path):
    server.files["weights.pth"] = PAYLOAD
    expected = sha(b"the real file")
    with pytest.raises(DownloadError, match=f"corrupt weights.pth: its sha256 is {sha(PAYLOAD)}, expected {expected}; the download was deleted"):
        download_file(server.spec("weights.pth", sha256=expected), tmp_path, progress=False)
    assert names(tmp_path) == []


def test_an_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    server.files["weights.pth"] = PAYLOAD
    server.cut_next.add("weights.pth")
    spec = server.spec("weights.pth", sha256=sha(PAYLOAD))
    half = len(PAYLOAD) // 2
    with pytest.raises(DownloadError, match=f"stopped after {half} of {len(PAYLOAD)} bytes; run again to resume"):
        download_file(spec, tmp_path, progress=False)
    assert names(tmp_path) == ["weights.pth.part"] and partial_path(tmp_path / "weights.pth").stat().st_size == half

    result = download_file(spec, tmp_path, progress=False)
    assert server.requests[-1] == ("weights.pth", f"bytes={half}-")
    assert result.action == "resumed" and result.path.read_bytes() == PAYLOAD
    assert names(tmp_path) == ["weights.pth"]


def test_a_partial_file_already_complete_is_verified_and_kept(server, tmp_path):
    server.files["weights.pth"] = PAYLOAD
    partial_path(tmp_path / "weights.pth").write_bytes(PAYLOAD)  # e.g. interrupted just before the rename
    result = download_file(server.spec("weights.pth", sha256=sha(PAYLOAD)), tmp_path, progress=False)
    assert server.requests == [("weights.pth", f"bytes={len(PAYLOAD)}-")]  # answered 416: nothing left to send
    assert result.action == "resumed" and result.path.read_bytes() == PAYLOAD


def test_a_complete_file_is_not_downloaded_again(server, tmp_path):
    server.files["weights.pth"] = PAYLOAD
    spec = server.spec("weights.pth", sha256=sha(PAYLOAD))
    download_file(spec, tmp_path, progress=False)
    requests = len(server.requests)

    result = download_file(spec, tmp_path, progress=False)
    assert result.action == "present" and len(server.requests) == requests


def test_server_error_names_the_url(server, tmp_path):
    server.status["weights.pth"] = 500
    spec = server.spec("weights.pth")
    with pytest.raises(DownloadError, match=f"downloading {re.escape(spec.url)} failed: HTTP 500"):
        download_file(spec, tmp_path, progress=False)
    assert names(tmp_path) == []


def test_unreachable_server_names_the_url(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/weights.pth"
    with pytest.raises(DownloadError, match=f"cannot reach {re.escape(url)} .*check the network connection"):
        download_file(ModelFile("weights.pth", url), tmp_path, progress=False)


def test_without_a_known_hash_the_first_download_is_recorded_and_later_runs_check_it(server, tmp_path):
    server.files["weights.pth"] = PAYLOAD
    spec = server.spec("weights.pth", sha256=None)
    download_file(spec, tmp_path, progress=False)
    record = record_path(tmp_path / "weights.pth")
    assert record.read_text() == f"{sha(PAYLOAD)}  weights.pth\n"

    (tmp_path / "weights.pth").write_bytes(PAYLOAD[:-1] + b"x")  # later damaged on disk
    with pytest.raises(DownloadError, match="weights.pth is not the expected file: its sha256 is .*delete it to download it again"):
        download_file(spec, tmp_path, progress=False)

    (tmp_path / "weights.pth").unlink()
    server.files["weights.pth"] = b"a different file"  # the server now hands out something else
    with pytest.raises(DownloadError, match="download was deleted.*give weights.pth=HEX to --sha256 .* or delete .*weights.pth.sha256"):
        download_file(spec, tmp_path, progress=False)
    assert names(tmp_path) == ["weights.pth.sha256"]


def test_a_file_put_there_by_hand_is_accepted_and_recorded(server, tmp_path):
    (tmp_path / "weights.pth").write_bytes(PAYLOAD)
    result = download_file(server.spec("weights.pth", sha256=None, size=len(PAYLOAD)), tmp_path, progress=False)
    assert result.action == "present" and server.requests == []
    assert record_path(result.path).read_text().startswith(sha(PAYLOAD))


def test_without_any_hash_the_size_must_match(server, tmp_path):
    server.files["weights.pth"] = PAYLOAD
    with pytest.raises(DownloadError, match=f"announced a file of {len(PAYLOAD)} bytes, expected 123"):
        download_file(server.spec("weights.pth", size=123), tmp_path, progress=False)
    assert names(tmp_path) == []
    (tmp_path / "weights.pth").write_bytes(PAYLOAD)  # put there by hand
    with pytest.raises(DownloadError, match=f"it has {len(PAYLOAD)} bytes, expected 123"):
        download_file(server.spec("weights.pth", size=123), tmp_path, progress=False)


def test_a_transfer_without_content_length_is_refused(server, tmp_path):
    server.files["weights.pth"] = PAYLOAD
    server.no_length.add("weights.pth")
    spec = server.spec("weights.pth", sha256=sha(PAYLOAD), size=len(PAYLOAD))
    with pytest.raises(DownloadError, match="did not announce the file's length .*end of the transfer cannot be checked"):
        download_file(spec, tmp_path, progress=False)
    assert names(tmp_path) == []


def test_a_server_announcing_another_size_is_refused_before_the_body_is_read(server, tmp_path):
    server.files["weights.pth"] = PAYLOAD
    with pytest.raises(DownloadError, match=f"announced a file of {len(PAYLOAD)} bytes, expected {len(PAYLOAD) + 1}"):
        download_file(server.spec("weights.pth", sha256=sha(PAYLOAD), size=len(PAYLOAD) + 1), tmp_path, progress=False)
    assert names(tmp_path) == []


def test_a_file_on_disk_must_have_both_the_pinned_size_and_the_hash(server, tmp_path):
    (tmp_path / "weights.pth").write_bytes(PAYLOAD)
    with pytest.raises(DownloadError, match=f"it has {len(PAYLOAD)} bytes, expected 7"):
        download_file(server.spec("weights.pth", sha256=sha(PAYLOAD), size=7), tmp_path, progress=False)
    with pytest.raises(DownloadError, match=f"its sha256 is {sha(PAYLOAD)}, expected {sha(b'other')}"):
        download_file(server.spec("weights.pth", sha256=sha(b"other"), size=len(PAYLOAD)), tmp_path, progress=False)
    assert server.requests == []


def test_sha256_override_replaces_the_registry_value(server, tmp_path):
    server.files["weights.pth"] = PAYLOAD
    spec = server.spec("weights.pth", sha256=sha(b"an older release"), size=1)
    result = download_file(spec, tmp_path, sha256=sha(PAYLOAD).upper(), progress=False)
    assert result.action == "downloaded"
    with pytest.raises(DownloadError, match="must be 64 hexadecimal digits, got 'abc'"):
        download_file(spec, tmp_path, sha256="abc", progress=False)


def test_unwritable_destination_fails_before_any_request(server, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DownloadError, match=f"cannot write into {blocker / 'models'}.*choose another folder"):
        download_file(server.spec("weights.pth"), blocker / "models", progress=False)
    assert server.requests == []


def test_registry_holds_the_official_release_assets():
    defaults = {spec.name for spec in dl.select_files()}
    assert defaults == {
        "mapping_00109-model.pth.tar", "mapping_00229-model.pth.tar", "SadTalker_V0.0.2_256.safetensors",
        "SadTalker_V0.0.2_512.safetensors", "detection_Resnet50_Final.pth", "alignment_WFLW_4HG.pth", "GFPGANv1.4.pth",
    }
    assert {spec.name for spec in dl.select_files(include_optional=True)} - defaults == {
        "RestoreFormer.pth", "codeformer.pth", "parsing_parsenet.pth", "RealESRGAN_x2plus.pth"}
    # every trainer's files: the recon net (bundle), MappingNet's frozen renderer with its head-pose
    # estimator, Wav2Lip, the perceptual loss's VGG-19
    assert {spec.name for spec in dl.select_files(training=True)} == {
        "SadTalker_V0.0.2_256.safetensors", "facevid2vid_00189-model.pth.tar", "wav2lip.pth", "vgg19-dcbb9e9d.pth"}
    for spec in dl.OFFICIAL_FILES.values():
        assert (spec.url.startswith("https://github.com/") and "/releases/download/" in spec.url
                or spec.url.startswith("https://download.pytorch.org/models/"))
        assert spec.url.rsplit("/", 1)[1] == spec.name
        assert spec.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
    # pinned where known: every hash-less file lacks a published hash (official_files says why), and
    # only the five files whose size could not be read here (no network) lack a size
    assert {spec.name for spec in dl.OFFICIAL_FILES.values() if spec.size is None} == {
        "RestoreFormer.pth", "facevid2vid_00189-model.pth.tar", "wav2lip.pth", "parsing_parsenet.pth",
        "RealESRGAN_x2plus.pth"}
    assert dl.OFFICIAL_FILES["vgg19-dcbb9e9d.pth"].sha256.startswith("dcbb9e9d")  # torchvision's name prefix
    with pytest.raises(DownloadError, match="unknown model file"):
        dl.select_files(["GFPGANv1.3.pth"])


def test_progress_is_reported_in_bytes_of_the_whole_file_also_when_resuming(server, tmp_path):
    server.files["weights.pth"] = PAYLOAD * 3  # three chunks
    server.cut_next.add("weights.pth")
    spec = server.spec("weights.pth", sha256=sha(PAYLOAD * 3))
    reports: list[tuple[int, int | None]] = []
    with pytest.raises(DownloadError):
        download_file(spec, tmp_path, progress=False, on_progress=lambda done, total: reports.append((done, total)))
    half = len(PAYLOAD) * 3 // 2
    assert reports and reports[-1] == (half, len(PAYLOAD) * 3)

    reports.clear()
    download_file(spec, tmp_path, progress=False, on_progress=lambda done, total: reports.append((done, total)))
    assert [done for done, _ in reports] == sorted(done for done, _ in reports) and reports[0][0] > half
    assert reports[-1] == (len(PAYLOAD) * 3, len(PAYLOAD) * 3)


def test_a_progress_callback_that_raises_stops_the_download_and_keeps_the_partial_file(server, tmp_path):
    server.files["weights.pth"] = PAYLOAD * 3
    spec = server.spec("weights.pth", sha256=sha(PAYLOAD * 3))

    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int | None) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        download_file(spec, tmp_path, progress=False, on_progress=cancel)
    assert names(tmp_path) == ["weights.pth.part"]
    assert download_file(spec, tmp_path, progress=False).action == "resumed"


def test_a_mirror_serves_the_files_under_their_own_names(server, tmp_path, monkeypatch):
    server.files["mirror/weights.pth"] = PAYLOAD
    spec = ModelFile("weights.pth", "https://example.invalid/releases/weights.pth", sha256=sha(PAYLOAD))
    monkeypatch.setenv(dl.MIRROR_ENV, f"{server.base}/mirror/")
    assert dl.file_url(spec) == f"{server.base}/mirror/weights.pth"
    assert download_file(spec, tmp_path, progress=False).action == "downloaded"
    assert server.requests == [("mirror/weights.pth", None)]
    monkeypatch.delenv(dl.MIRROR_ENV)
    assert dl.file_url(spec) == spec.url


def test_sha256_overrides_are_read_from_name_equals_hash_lines_and_must_name_a_file_to_download():
    text = f"\n  a.pth = {sha(b'a').upper()}\n\nb.pth={sha(b'b')}  \n"
    assert dl.sha256_overrides(text.splitlines()) == {"a.pth": sha(b"a"), "b.pth": sha(b"b")}
    with pytest.raises(DownloadError, match="must read NAME=HEX, got 'a.pth'"):
        dl.sha256_overrides(["a.pth"])
    with pytest.raises(DownloadError, match="the sha256 given for a.pth must be 64 hexadecimal digits"):
        dl.sha256_overrides(["a.pth=123"])
    files = [ModelFile("a.pth", "https://example.invalid/a.pth")]
    dl.check_overrides(files, {"a.pth": sha(b"a")})
    with pytest.raises(DownloadError, match="a sha256 is given for b.pth, which is not among the files"):
        dl.check_overrides(files, {"b.pth": sha(b"b")})
