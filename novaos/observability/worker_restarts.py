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

_NAME = "worker_restarts"
_HELP = "Worker processes the supervisor restarted after they died"


class WorkerRestarts(Collector):
    def __init__(self, count: Callable[[], int]) -> None:
        self._count = count

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(_NAME, _HELP, value=self._count())

    def describe(self) -> Iterator[CounterMetricFamily]:
        """The name, for the registry: ``/metrics?name[]=worker_restarts_total``
        selects only collectors it knows by name."""
        yield CounterMetricFamily(_NAME, _HELP)
