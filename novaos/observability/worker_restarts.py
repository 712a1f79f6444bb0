"""``worker_restarts_total``: workers the supervisor started again after they died.

A worker that crashes or is OOM-killed under WORKERS>1 is restarted by the
supervisor within a second: the pod's restart count never moves and the only
other trace is a stdout line. The count lives in the supervisor, which has no
multiprocess value files of its own, so it is read at each scrape by the
registry that serves the aggregated /metrics. A single process exports 0: its
own restarts are the container's restart count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class WorkerRestarts(Collector):
    def __init__(self, count: Callable[[], int]) -> None:
        self._count = count

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "worker_restarts",
            "Worker processes the supervisor restarted after they died",
            value=self._count(),
        )
