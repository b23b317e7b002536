"""Two processes under ``torchrun`` (gloo, CPU) train every network to the same parameters as one
process with the same global batch: the data split, the global-batch BatchNorm and DDP's gradient
averaging together reproduce the single-process updates.

The runs use ``run.dtype: float64``.  The two runs sum in different orders, so gradients agree
to rounding, and Adam's normalised steps (about ±lr whatever a gradient's size) amplify rounding
where a gradient is itself near zero (a convolution bias in front of a BatchNorm, say): in
float32 some parameters end up a few lr apart; in float64 the rounding is 10^9 times smaller, and
what is left (up to ~3e-5 after two steps of lr 1e-3) sits in such near-zero-gradient biases.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from paths import REPO

from training.config import save_config

STEPS = 2
NETWORKS = ("posevae", "expnet", "mapping", "facevid2vid")
WORKER = Path(__file__).with_name("ddp_worker.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_train_like_one(configs, runs, tmp_path):
    launched = []
    for name in NETWORKS:
        config = getattr(configs, name)(tmp_path / f"ddp_{name}", STEPS, dtype="float64")
        save_config(config, tmp_path / f"{name}.yaml")
        launched.append(f"{name}={tmp_path / f'{name}.yaml'}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    launch = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                             "127.0.0.1", "--master_port", str(free_port()), str(WORKER), *launched],
                            env=env, cwd=tmp_path, timeout=900, capture_output=True, text=True)
    assert launch.returncode == 0, launch.stdout[-2000:] + launch.stderr[-4000:]
    assert launch.stdout.count("done: ") == len(NETWORKS)  # the summary comes from rank 0 only
    for name in NETWORKS:
        one = runs.train(name, getattr(configs, name)(tmp_path / f"single_{name}", STEPS, dtype="float64"))
        two = runs.of(name, getattr(configs, name)(tmp_path / f"ddp_{name}", STEPS, dtype="float64"))
        parameters, where = one.difference(two, STEPS)
        losses = max(abs(one.losses()[s][k] - two.losses()[s][k]) / max(abs(one.losses()[s][k]), 1e-6)
                     for s in range(1, STEPS + 1) for k in one.losses()[s])
        print(f"{name}: max |param diff| {parameters:.3g} ({where}), max relative loss diff {losses:.3g}")
        assert losses < 1e-6
        assert parameters < 1e-4  # the learning rate is 1e-3: an update is ~1e-3 per step
