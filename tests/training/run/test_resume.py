"""Resuming: a run restarted from one of its checkpoints logs the same losses, bit for bit, and
ends with the same parameters as the run that never stopped (every network)."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("name, start", [("posevae", 8), ("expnet", 12), ("mapping", 8), ("facevid2vid", 8)])
def test_resumed_run_continues_the_same_curve(trained, resume, name, start):
    check = resume(trained(name), start, start + 4)
    print(f"{name}: resumed at step {start}, steps {sorted(check.resumed)} identical: "
          f"{check.resumed == check.original}, max |param diff| {check.max_param_diff}")
    assert check.resumed == check.original and len(check.resumed) == 4
    assert check.max_param_diff == 0
