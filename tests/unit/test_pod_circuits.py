"""Readiness under WORKERS>1: circuits count for the pod, through the supervisor's run dir.

Two workers' health services over one directory, as the supervisor lays it out.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from novaos.pod_circuits import FilePodCircuits, circuits_dir, forget_worker
from novaos.services.health import CircuitView, HealthService, ProviderView
from novaos.storage import MemoryStore

PROVIDERS = (ProviderView("openai", "gpt-4o-mini"),)


@dataclass
class Breakers:
    state: str = "closed"

    def circuits(self) -> Sequence[CircuitView]:
        return [CircuitView("openai", self.state)]


@dataclass
class Worker:
    breakers: Breakers
    pod: FilePodCircuits
    health: HealthService

    async def ready(self) -> bool:
        self.health.publish_circuits()  # what its readiness tick does first
        return (await self.health.ready()).ready


def worker(run_dir: Path, index: int) -> Worker:
    breakers = Breakers()
    pod = FilePodCircuits(circuits_dir(run_dir), index)
    health = HealthService(MemoryStore(), PROVIDERS, circuits=breakers, pod=pod)
    return Worker(breakers, pod, health)


async def test_a_worker_with_every_circuit_open_answers_for_the_pod(tmp_path: Path) -> None:
    # It answered NOT_SERVING for itself: the kubelet's probe, on a new connection
    # each time, saw the pod flap as it landed on one worker or the other.
    w0, w1 = worker(tmp_path, 0), worker(tmp_path, 1)
    assert await w1.ready()
    w0.breakers.state = "open"
    assert await w0.ready(), "worker 1 still has a usable circuit: the pod is ready"
    assert await w1.ready()
    w1.breakers.state = "open"
    assert not await w1.ready()
    assert not await w0.ready()
    assert (await w0.health.ready()).checks["providers"] == "all_circuits_open"
    w1.breakers.state = "half_open"  # a trial call may go through
    assert await w1.ready() and await w0.ready()


async def test_a_dead_or_wedged_worker_does_not_keep_the_pod_ready(tmp_path: Path) -> None:
    w0, w1 = worker(tmp_path, 0), worker(tmp_path, 1)
    w0.breakers.state = "open"
    assert await w1.ready() and await w0.ready()
    forget_worker(tmp_path, 1)  # the supervisor reaped it
    assert not await w0.ready()
    assert await w1.ready()  # a new worker 1 (or the same one's next tick)
    assert await w0.ready()
    stale = os.stat(circuits_dir(tmp_path) / "1").st_mtime - w0.pod.stale_after_s - 1
    os.utime(circuits_dir(tmp_path) / "1", (stale, stale))  # not rewritten since
    assert not await w0.ready()
    w1.pod.withdraw()  # at its drain
    assert not w0.pod.others_usable()


async def test_one_process_is_its_own_pod() -> None:
    health = HealthService(MemoryStore(), PROVIDERS, circuits=Breakers("open"))
    health.publish_circuits()  # nowhere to publish
    assert not (await health.ready()).ready
