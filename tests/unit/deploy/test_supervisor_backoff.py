"""A worker that keeps dying young is restarted ever more slowly, not in a tight loop."""

from __future__ import annotations

import shutil

from novaos.config import Settings
from novaos.supervisor import Supervisor


def test_restart_delays_double_while_the_worker_dies_young_and_reset_once_it_lived() -> None:
    supervisor = Supervisor(Settings(require_auth=False), {})  # type: ignore[call-arg]
    try:
        supervisor._started[0] = 100.0
        delays = [supervisor._next_delay(0, 101.0 + i) for i in range(9)]
        assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
        supervisor._started[0] = 200.0
        assert supervisor._next_delay(0, 260.0) == 0.5
    finally:
        shutil.rmtree(supervisor.metrics_dir, ignore_errors=True)
