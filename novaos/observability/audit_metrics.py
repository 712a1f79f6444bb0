"""Audit writer metrics: queue depth, spill state, writes and sink errors.

Implements the audit ``AuditObserver`` hook on the process's ``Metrics``
registry, so the audit package itself never imports prometheus.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from novaos.observability.metrics import Metrics


class AuditMetrics:
    def __init__(self, metrics: Metrics, sink: str = "") -> None:
        """``sink``: the configured sink's name, whose error count starts at 0 (a
        series that appears only at the first error shows "No data", and no rate
        or increase over it sees that first error)."""
        r = metrics.registry
        self._metrics = metrics
        self.spilled = Gauge(
            "audit_spilled_records",
            "Audit records held in the local spill file until the sink is back",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.spilling = Gauge(
            "audit_spilling",
            "1 while audit records spill because the sink is failing",
            registry=r,
            multiprocess_mode="livemax",  # a dead worker's last value must not stay
        )
        self.written = Counter(
            "audit_records_written_total", "Audit records stored by the sink", registry=r
        )
        self.quarantined = Gauge(
            "audit_spill_quarantined_files",
            "Spill files moved aside because their records failed the check (edited,"
            " forged or deleted lines): not stored, investigate",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.sink_errors = Counter(
            "audit_sink_errors_total", "Failed audit sink operations", ["sink"], registry=r
        )
        if sink:
            self.sink_errors.labels(sink)

    def on_queue_depth(self, depth: int) -> None:
        self._metrics.audit_depth(depth)

    def on_spill(self, spilled: int, *, spilling: bool) -> None:
        self.spilled.set(spilled)
        self.spilling.set(1 if spilling else 0)

    def on_written(self, count: int) -> None:
        self.written.inc(count)

    def on_sink_error(self, sink: str, error: BaseException) -> None:
        self.sink_errors.labels(sink).inc()

    def on_quarantine(self, files: int) -> None:
        self.quarantined.set(files)
