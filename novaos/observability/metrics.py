"""Prometheus metrics: the guide's names first, then gRPC conventions, then ours.

One ``Metrics`` object per process, on its own registry (no module globals).
With ``PROMETHEUS_MULTIPROC_DIR`` set (WORKERS > 1) values are written to that
directory and the supervisor's exporter aggregates them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from novaos.domain import GateRecord
from novaos.pipeline.orchestrator import GateObserver

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
_FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)

CIRCUIT_STATES = {"closed": 0, "open": 1, "half_open": 2}


class Metrics(GateObserver):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "RPC duration by method and code",
            ["method", "code"],
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.http_requests = Counter(
            "http_requests_total", "RPCs by method and code", ["method", "code"], registry=r
        )
        self.circuit_state = Gauge(
            "circuit_breaker_state",
            "Breaker state: 0 closed, 1 open, 2 half-open",
            ["provider"],
            registry=r,
            multiprocess_mode="max",
        )
        self.rate_limited = Counter(
            "rate_limit_exceeded_total",
            "Requests refused by a tier limit",
            ["tier", "limit"],
            registry=r,
        )
        self.tokens = Counter(
            "llm_token_usage_total",
            "LLM tokens by provider, model and kind (input|output)",
            ["provider", "model", "kind"],
            registry=r,
        )
        grpc_labels = ["grpc_service", "grpc_method", "grpc_type"]
        self.grpc_started = Counter(
            "grpc_server_started_total", "RPCs started", grpc_labels, registry=r
        )
        self.grpc_handled = Counter(
            "grpc_server_handled_total", "RPCs completed", [*grpc_labels, "grpc_code"], registry=r
        )
        self.grpc_seconds = Histogram(
            "grpc_server_handling_seconds",
            "RPC handling time",
            grpc_labels,
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.grpc_sent = Counter(
            "grpc_server_msg_sent_total", "Stream messages sent", grpc_labels, registry=r
        )
        self.gate_decisions = Counter(
            "gate_decisions_total", "Gate decisions", ["gate", "decision"], registry=r
        )
        self.gate_seconds = Histogram(
            "gate_duration_seconds", "Gate latency", ["gate"], registry=r, buckets=_FAST_BUCKETS
        )
        self.ttft = Histogram(
            "llm_time_to_first_token_seconds",
            "Upstream time to first token",
            ["provider"],
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.inter_token = Histogram(
            "llm_inter_token_seconds",
            "Gap between upstream chunks",
            ["provider"],
            registry=r,
            buckets=(*_FAST_BUCKETS, 1, 5),
        )
        # Observed once per upstream chunk: resolve the labelled child once per
        # provider instead of on every chunk (labels() locks and builds a key).
        self._gap_children: dict[str, Histogram] = {}
        self.overhead = Histogram(
            "gateway_overhead_seconds",
            "Time spent in NovaOS itself (excluding the provider)",
            registry=r,
            buckets=_FAST_BUCKETS,
        )
        self.active_streams = Gauge(
            "active_streams", "Chat streams in flight", registry=r, multiprocess_mode="livesum"
        )
        self.storage_fallback = Gauge(
            "storage_fallback_active",
            "1 while Redis is down and memory serves",
            registry=r,
            multiprocess_mode="max",
        )
        self.memory_store_keys = Gauge(
            "memory_store_keys",
            "Keys in the in-process store (memory-only mode or the Redis-down fallback)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.audit_queue = Gauge(
            "audit_queue_depth",
            "Audit records waiting to be written",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.web_fetch = Counter(
            "web_fetch_total", "Lens web fetches by result", ["result"], registry=r
        )
        for result in ("ok", "blocked", "timeout", "too_large", "error"):
            self.web_fetch.labels(result)  # export zeros so rate() and alerts see every result

    # -- GateObserver
    def gate_decided(self, record: GateRecord) -> None:
        self.gate_decisions.labels(record.gate, record.decision.value).inc()
        self.gate_seconds.labels(record.gate).observe(record.latency_ms / 1000)

    # -- provider observer hooks (see novaos.providers)
    def set_circuit_state(self, provider: str, state: int) -> None:
        self.circuit_state.labels(provider).set(state)

    def count_tokens(self, provider: str, model: str, kind: str, n: int) -> None:
        if n > 0:
            self.tokens.labels(provider, model, kind).inc(n)

    def first_token(self, provider: str, seconds: float) -> None:
        self.ttft.labels(provider).observe(seconds)

    def inter_token_gap(self, provider: str, seconds: float) -> None:
        child = self._gap_children.get(provider)
        if child is None:
            child = self._gap_children[provider] = self.inter_token.labels(provider)
        child.observe(seconds)

    # -- limits / storage / audit / web fetch hooks
    def limit_exceeded(self, tier: str, limit: str) -> None:
        self.rate_limited.labels(tier, limit).inc()

    def fallback_active(self, active: bool) -> None:
        self.storage_fallback.set(1 if active else 0)

    def audit_depth(self, depth: int) -> None:
        self.audit_queue.set(depth)

    def fetched(self, result: str) -> None:
        self.web_fetch.labels(result).inc()
