"""A fault for the ``generate-batch --ray`` tests, installed in every Ray worker process of the test
cluster by ``runtime_env={"worker_process_setup_hook": "ray_faults.stop_on_first_attempt"}``.

The first attempt at a row whose picture is named ``once*`` kills the worker's process, as an
out-of-memory kill or a lost node would; a ``.attempted`` file beside the picture (the workers
share the file system) makes the next attempt, on whichever worker, render normally.
"""
from __future__ import annotations

import argparse
import os

from sadtalker_core.cli import batch


def stop_on_first_attempt() -> None:
    render = batch.RowRenderer.render

    def render_or_stop(self: batch.RowRenderer, row_args: argparse.Namespace) -> str:
        marker = row_args.image.with_suffix(".attempted")
        if row_args.image.stem.startswith("once") and not marker.exists():
            marker.touch()
            os._exit(1)
        return render(self, row_args)

    batch.RowRenderer.render = render_or_stop
