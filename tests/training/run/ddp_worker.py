"""Launched by test_distributed.py under ``torchrun``: trains each ``network=config.yaml`` given on
the command line through the trainers' command line (``runner.main``), one after the other, in
one process group (so the processes start only once)."""
from __future__ import annotations

import importlib
import sys

import torch.distributed as dist

from training.run.runner import main as train_main

TRAINERS = {
    "posevae": ("PoseVAETask", "PoseVAETrainConfig"),
    "expnet": ("ExpNetTask", "ExpNetTrainConfig"),
    "mapping": ("MappingTask", "MappingTrainConfig"),
    "facevid2vid": ("FaceVid2VidTask", "FaceVid2VidTrainConfig"),
}


def main(argv: list[str]) -> int:
    dist.init_process_group("gloo")
    try:
        for item in argv:
            name, path = item.split("=", 1)
            module = importlib.import_module(f"training.trainers.{name}")
            task, config = (getattr(module, attr) for attr in TRAINERS[name])
            train_main(task, config, ["--config", path])
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
