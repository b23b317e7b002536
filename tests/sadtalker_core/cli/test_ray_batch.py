"""``generate-batch --ray``: a manifest's rows rendered by the workers of a Ray cluster, each worker
loading the models once; a row that fails, or whose worker dies, is tried once more, then reported
as without Ray; a rerun skips finished outputs.  Ray runs here as a local cluster with fake
weights, every row 1-2 frames long (``max_seconds``)."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from paths import REPO

from sadtalker_core.cli import main, ray_batch
from sadtalker_core.cli.ray_batch import WorkerPlan, plan_workers
from sadtalker_core.errors import SettingError
from sadtalker_core.io.video_reader import probe_video

TESTS = REPO / "tests"


def run(*argv: str | Path) -> tuple[int, str, str]:
    """``main(argv)`` -> (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in argv])
    return code, out.getvalue(), err.getvalue()


def _one_error_line(code: int, err: str) -> str:
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    return err


# --- without a cluster: the flag's errors and the choice of workers ------------------------------


def test_without_ray_installed_the_flag_is_one_error_line_naming_the_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as when it is not installed
    code, out, err = run("generate-batch", tmp_path / "clips.csv", "--checkpoints", tmp_path, "--ray")
    assert _one_error_line(code, err) == "error: generate-batch --ray needs Ray: pip install ray (or the project's " \
                                         "[ray] extra)\n"
    assert out == ""


@pytest.mark.parametrize("options, message", [
    (["--ray", "--shard", "0/2"], "error: --ray hands every row out itself; drop --shard"),
    (["--ray", "--device", "cuda:1"], "error: --device cuda:1: with --ray each worker gets a GPU of its own"),
    (["--ray-cpus-per-worker", "2"], "error: --ray-cpus-per-worker sizes the workers of --ray; give --ray too"),
])
def test_options_that_do_not_go_with_ray_stop_before_anything_runs(tmp_path, options, message):
    code, _, err = run("generate-batch", tmp_path / "clips.csv", "--checkpoints", tmp_path, *options)
    assert _one_error_line(code, err).startswith(message)


def test_a_manifest_after_ray_is_not_taken_for_its_address(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["generate-batch", "--ray", "clips.csv", "--checkpoints", "models"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("error: argument --ray: 'clips.csv' is a manifest, not a Ray address; "
                                              "write the manifest before --ray")


def _node(cpus: int, gpus: int = 0, alive: bool = True) -> dict:
    return {"Alive": alive, "Resources": {"CPU": float(cpus), **({"GPU": float(gpus)} if gpus else {})}}


@pytest.mark.parametrize("nodes, device, cpus_per_worker, rows, plan", [
    ([_node(8)], "auto", None, 10, WorkerPlan(4, 2, 0)),  # 2 CPUs each by default
    ([_node(8), _node(3), _node(16, alive=False)], "auto", 3, 10, WorkerPlan(3, 3, 0)),  # node by node, alive only
    ([_node(1)], "auto", None, 10, WorkerPlan(1, 1, 0)),  # a node smaller than the default: all of it
    ([_node(8)], "auto", None, 3, WorkerPlan(3, 2, 0)),  # never more workers than rows
    ([_node(16, 4), _node(8, 1), _node(32)], "auto", None, 10, WorkerPlan(5, 4, 1)),  # one per GPU
    ([_node(16, 4)], "cuda", 6, 10, WorkerPlan(2, 6, 1)),  # 6 CPUs each: two GPUs' workers fit
    ([_node(16, 4)], "cpu", None, 10, WorkerPlan(8, 2, 0)),  # --device cpu leaves the GPUs out
])
def test_one_worker_per_gpu_or_per_cpu_slot(nodes, device, cpus_per_worker, rows, plan):
    assert plan_workers(nodes, device, cpus_per_worker, rows) == plan


@pytest.mark.parametrize("nodes, device, cpus_per_worker, message", [
    ([_node(8)], "cuda", None, "--device cuda: the Ray cluster has no GPU; use --device auto or cpu"),
    ([_node(8), _node(4)], "auto", 12, ("no node of the Ray cluster has 12 CPUs for a worker (the largest has 8); "
                                        "give --ray-cpus-per-worker a smaller number, or add nodes")),
    ([_node(4, 1)], "auto", 8, "no GPU node of the Ray cluster has 8 CPUs for a worker (the largest has 4)"),
])
def test_workers_that_cannot_fit_are_an_error(nodes, device, cpus_per_worker, message):
    with pytest.raises(SettingError, match=re.escape(message)):
        plan_workers(nodes, device, cpus_per_worker, 10)


class _StandInRay:
    """``ray.init`` as it behaves here: it sets a SIGTERM handler of its own, or finds no cluster."""

    def __init__(self, running: bool = True):
        self.running, self.options = running, None

    def init(self, **options) -> None:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))
        if not self.running:
            raise ConnectionError("Could not find any running Ray instance.")
        self.options = options


def test_joining_a_cluster_keeps_sigterm_stopping_the_command_line_as_ctrl_c_does():
    before = signal.getsignal(signal.SIGTERM)
    local, running = _StandInRay(), _StandInRay()
    ray_batch._connect(local, "local")
    ray_batch._connect(running, "auto")
    assert signal.getsignal(signal.SIGTERM) is before
    assert local.options == {"address": "local", "include_dashboard": False, "logging_level": logging.WARNING}
    assert running.options == {"address": "auto", "logging_level": logging.WARNING}


def test_no_cluster_at_the_address_is_a_setting_error_saying_how_to_start_one():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SettingError, match=r"^--ray auto: no Ray cluster there \(Could not find any running Ray "
                                           r"instance\.\); start one with ray start --head, or give --ray alone"):
        ray_batch._connect(_StandInRay(running=False), "auto")
    assert signal.getsignal(signal.SIGTERM) is before


# --- on a local cluster ---------------------------------------------------------------------------


def test_a_two_row_manifest_on_the_cluster_generate_batch_starts_and_a_rerun_skips_both(
        checkpoints, media_dir, talking_video, tmp_path):
    """``--ray`` alone starts a cluster on this machine (a subprocess: the command as a user runs it),
    two workers of one CPU, each rendering with its own models: a picture row and a dub row (a video
    instead of an image, dubbed at its 384 x 320)."""
    media = media_dir
    manifest = tmp_path / "clips.csv"
    manifest.write_text("image,video,audio,output,max_seconds,pose_style,still\n"
                        f"{media}/people_0.png,,{media}/RD_Radio31_000_first640ms.wav,out/a.mp4,0.08,3,true\n"
                        f",{talking_video},{media}/chinese_poem1.wav,out/b.mp4,0.04,,\n")
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "sadtalker_core", "generate-batch", str(manifest), "--ray",
                           "--ray-cpus-per-worker", "1", "--checkpoints", str(checkpoints), "--seed", "0"],
                          env=environment, capture_output=True, text=True, timeout=900, check=False)
    out = tmp_path / "out"
    assert done.returncode == 0, done.stderr
    a, b = sorted(done.stdout.splitlines())  # in the order the rows finished
    assert re.fullmatch(rf"{re.escape(str(out / 'a.mp4'))}: 2 frames, \d+x\d+", a), done.stdout
    assert b == f"{out / 'b.mp4'}: 1 frames, 384x320, 25 fps", done.stdout
    assert "2 rows to render on 2 Ray workers (1 CPU each)" in done.stderr.splitlines()
    assert done.stderr.splitlines()[-1] == f"{manifest}: 2 rows, 2 rendered, 0 already complete, 0 failed"
    assert sorted(path.name for path in out.iterdir()) == ["a.mp4", "b.mp4"]  # nothing half-written left
    infos = [probe_video(out / name) for name in ("a.mp4", "b.mp4")]
    assert [(info.frame_count, info.fps, info.has_audio) for info in infos] == [(2, 25, True), (1, 25, True)]
    finished = {path.name: path.stat().st_mtime_ns for path in out.iterdir()}

    code, stdout, stderr = run("generate-batch", manifest, "--ray", "--checkpoints", checkpoints, "--quiet")
    assert code == 0
    assert stdout == "".join(f"{out / name}: already complete, skipped\n" for name in ("a.mp4", "b.mp4"))
    assert stderr == f"{manifest}: 2 rows, 0 rendered, 2 already complete, 0 failed\n"
    assert {path.name: path.stat().st_mtime_ns for path in out.iterdir()} == finished


@pytest.fixture(scope="module")
def cluster():
    """``ray.init(num_cpus=2)`` in this process, every worker process with the fault of
    :mod:`ray_faults` (importable there through PYTHONPATH, which the workers inherit)."""
    import ray

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), str(TESTS)]))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"worker_process_setup_hook": "ray_faults.stop_on_first_attempt",
                              "env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"]}})
        try:
            yield ray
        finally:
            ray.shutdown()


def test_a_row_whose_worker_dies_is_rendered_on_the_second_try_and_a_failing_row_is_reported_after_two(
        cluster, checkpoints, media_dir, tmp_path):
    """A process that already joined a cluster renders on it (and leaves it running)."""
    (tmp_path / "media").mkdir()
    once = tmp_path / "media" / "once.png"
    shutil.copy(media_dir / "people_0.png", once)
    wall = tmp_path / "media" / "wall.png"
    cv2.imwrite(str(wall), np.full((300, 400, 3), 128, np.uint8))  # no face
    manifest = tmp_path / "clips.csv"
    speech = media_dir / "RD_Radio31_000.wav"
    manifest.write_text(f"image,audio,output,max_seconds\n{once},{speech},out/once.mp4,0.04\n"
                        f"{wall},{speech},out/wall.mp4,0.04\n")

    code, stdout, stderr = run("generate-batch", manifest, "--ray", "--ray-cpus-per-worker", "1", "--checkpoints",
                               checkpoints, "--seed", "0", "--quiet")
    out = tmp_path / "out"
    assert code == 2
    assert re.fullmatch(rf"{re.escape(str(out / 'once.mp4'))}: 1 frames, \d+x\d+\n", stdout), stdout
    lines = stderr.splitlines()
    assert once.with_suffix(".attempted").exists()  # the first attempt did stop its worker
    assert any(line.startswith(f"line 2 ({out / 'once.mp4'}): attempt 1 failed (its Ray worker stopped")
               and line.endswith("; trying again") for line in lines), stderr
    assert any(re.fullmatch(rf"line 3 \({re.escape(str(out / 'wall.mp4'))}\): attempt 1 failed \(no face found in "
                            rf"{re.escape(str(wall))}.*\); trying again", line) for line in lines), stderr
    assert lines[-2] == f"{manifest}: 2 rows, 1 rendered, 0 already complete, 1 failed"
    assert re.fullmatch(rf"  line 3 \({re.escape(str(out / 'wall.mp4'))}\): no face found in {re.escape(str(wall))}"
                        r".* \(2 attempts\)", lines[-1]), lines[-1]
    assert sorted(path.name for path in out.iterdir()) == ["once.mp4"]
    assert (probe_video(out / "once.mp4").frame_count, probe_video(out / "once.mp4").has_audio) == (1, True)
    assert cluster.is_initialized()  # still joined; its workers ended, their CPUs free again
    deadline = time.monotonic() + 60
    while cluster.available_resources().get("CPU") != 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert cluster.available_resources().get("CPU") == 2
