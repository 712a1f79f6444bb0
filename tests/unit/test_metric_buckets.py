"""Gate latency and gateway overhead have finite buckets as far as they can go.

Their buckets stopped at 0.5 s while a lens web fetch may take
WEB_FETCH_TOTAL_TIMEOUT_MS (15 s) and the gates together PIPELINE_TIMEOUT_MS
(30 s): anything slower than 0.5 s landed in +Inf only, and histogram_quantile
reported 0.5 s for a p95 of seconds.
"""

from __future__ import annotations

import pytest

from novaos.config import load_settings
from novaos.domain import Decision, GateRecord
from novaos.observability.metrics import Metrics

SECRET = "buckets-secret-0123456789abcdefghijklm"


def _bounds(metrics: Metrics, name: str, **labels: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of each finite bucket."""
    return [
        (float(sample.labels["le"]), sample.value)
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == f"{name}_bucket"
        and sample.labels["le"] != "+Inf"
        and all(sample.labels.get(k) == v for k, v in labels.items())
    ]


@pytest.mark.parametrize("seconds", [0.6, 2.99, 12.0, 29.0])
def test_a_slow_gate_and_a_slow_overhead_land_in_a_finite_bucket(seconds: float) -> None:
    metrics = Metrics()
    metrics.gate_decided(GateRecord("lens", Decision.PASS, "fetched", seconds * 1000))
    metrics.overhead.observe(seconds)
    observed = (("gate_duration_seconds", {"gate": "lens"}), ("gateway_overhead_seconds", {}))
    for name, labels in observed:
        bounds = _bounds(metrics, name, **labels)
        first = next(bound for bound, count in bounds if count == 1)
        # A bucket close above it: a quantile is off by at most ~2.5x, not capped.
        assert seconds <= first <= seconds * 3, (name, seconds, bounds)


def test_the_top_finite_bucket_covers_the_longest_a_gate_may_run() -> None:
    settings = load_settings({"JWT_SECRET": SECRET})
    longest = max(settings.pipeline_timeout_ms, settings.web_fetch_total_timeout_ms) / 1000
    metrics = Metrics()
    metrics.gate_decided(GateRecord("lens", Decision.PASS))
    assert max(b for b, _ in _bounds(metrics, "gate_duration_seconds", gate="lens")) >= longest
