"""Prometheus metrics: the guide's names first, then gRPC conventions, then ours.

One ``Metrics`` object per process, on its own registry (no module globals).
With ``PROMETHEUS_MULTIPROC_DIR`` set (WORKERS > 1) values are written to that
directory and the supervisor's exporter aggregates them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from novaos.domain import GateRecord, Outcome, Tier
from novaos.limits.model import CONCURRENCY, REQUESTS, TOKENS
from novaos.observability.worker_restarts import WorkerRestarts
from novaos.pipeline.orchestrator import GateObserver
from novaos.providers.errors import ERROR_KINDS

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
# Gates and the gateway's own time: mostly sub-millisecond to tens of ms, but a lens
# web fetch may take WEB_FETCH_TOTAL_TIMEOUT_MS (15 s), a store call a few seconds and
# the gates together PIPELINE_TIMEOUT_MS (30 s): a slow tail must not all be +Inf.
_FAST_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1, 2.5, 5, 10, 30,
)  # fmt: skip

CIRCUIT_STATES = {"closed": 0, "open": 1, "half_open": 2}
# ``model`` on llm_token_usage_total is what the provider reported, which a client
# can steer (options.model; the mock and some OpenAI-compatible servers echo it):
# past this many per provider in a process, further ones count as "other". The
# deployment's configured models (``keep_models``) always keep their own label,
# outside this count, so a client cannot push them into "other".
MODEL_LABELS_PER_PROVIDER = 20
OTHER_MODEL = "other"

M = TypeVar("M", bound=MetricWrapperBase)


class Children(Generic[M]):
    """A labelled metric's children, each resolved once.

    ``labels()`` takes a lock and builds a key on every call; a request
    touches some twenty-five labelled children, so the hot path looks them up
    here. Label values are bounded (methods, codes, gates, providers), as
    Prometheus needs anyway."""

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._by_values: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._by_values.get(values)
        if child is None:
            child = self._by_values[values] = self._metric.labels(*values)
        return child


def _none() -> int:
    return 0


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
        # Breakers are per worker process: merged over the workers ("open on one of
        # them") the gauge said every circuit was open while each worker still had
        # one closed. ``worker`` keeps each process's own, so an alert can ask for
        # one worker with every circuit open; live: a dead worker's values go.
        self.circuit_state = Gauge(
            "circuit_breaker_state",
            "Breaker state per worker process: 0 closed, 1 open, 2 half-open",
            ["provider", "worker"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.rate_limited = Counter(
            "rate_limit_exceeded_total",
            "Requests refused by a tier limit",
            ["tier", "limit"],
            registry=r,
        )
        # Zeros from the start, as for web fetches: a series that appears only at the
        # first refusal has no past, so NovaOSRateLimitSpike's "3 x the hour before"
        # compared with nothing and could not fire on a first flood. (Under WORKERS>1
        # each worker writes its zeros to its value file; the sum is 0.)
        for tier in Tier:
            for limit in (REQUESTS, TOKENS, CONCURRENCY):
                self.rate_limited.labels(tier.value, limit)
        # What each chat request the pipeline ran ended as (its ``Request processed``
        # line's outcome): every outcome is code OK or one shared code in
        # http_requests_total, so crises, vetoes and blocked answers showed nowhere.
        self.chat_requests = Counter(
            "chat_requests_total",
            "Chat requests the pipeline ran, by outcome",
            ["outcome"],
            registry=r,
        )
        for outcome in Outcome:
            self.chat_requests.labels(outcome.value)  # zeros: a first crisis is a rise
        # Every failed provider call, also one a fallback provider then answered,
        # which left no other trace until the breaker opened.
        self.provider_errors = Counter(
            "provider_errors_total",
            "Failed provider calls by provider and kind (fallbacks included)",
            ["provider", "kind"],
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
        # ``grpc_type``: a unary Chat asks the provider for one whole answer, so its
        # "first token" is that whole answer (the provider's time, which the latency
        # runbook wants); only ``server_stream`` says when streamed answers start.
        self.ttft = Histogram(
            "llm_time_to_first_token_seconds",
            "Upstream time to first token (a unary call's: its whole upstream answer)",
            ["provider", "grpc_type"],
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.inter_token = Histogram(
            "llm_inter_token_seconds",
            "Gap between upstream chunks",
            ["provider"],
            registry=r,
            buckets=_FAST_BUCKETS,  # a stall up to STREAM_IDLE_TIMEOUT_MS (30 s)
        )
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
            multiprocess_mode="livemax",  # a dead worker's last value must not stay
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
        # Served only by a single process (a worker's registry is not): no supervisor.
        r.register(WorkerRestarts(_none))
        self._started = Children(self.grpc_started)
        self._sent = Children(self.grpc_sent)
        self._handled = Children(self.grpc_handled)
        self._handling = Children(self.grpc_seconds)
        self._requests = Children(self.http_requests)
        self._durations = Children(self.http_duration)
        self._decisions = Children(self.gate_decisions)
        self._gate_latency = Children(self.gate_seconds)
        self._tokens = Children(self.tokens)
        self._models: dict[str, set[str]] = {}  # per provider: first come, up to the cap
        self._kept: dict[str, frozenset[str]] = {}  # per provider: configured, always labelled
        self._first_token = Children(self.ttft)
        self._gaps = Children(self.inter_token)

    # -- RPCs (the interceptor); ``rpc`` is (grpc_service, grpc_method, grpc_type)
    def rpc_started(self, rpc: tuple[str, str, str]) -> None:
        self._started(*rpc).inc()

    def rpc_sent(self, rpc: tuple[str, str, str]) -> None:
        self._sent(*rpc).inc()

    def rpc_handled(self, rpc: tuple[str, str, str], path: str, code: str, seconds: float) -> None:
        self._handled(*rpc, code).inc()
        self._handling(*rpc).observe(seconds)
        self._requests(path, code).inc()
        self._durations(path, code).observe(seconds)

    # -- GateObserver
    def gate_decided(self, record: GateRecord, *, timed: bool = True) -> None:
        self._decisions(record.gate, record.decision.value).inc()
        if timed:
            self._gate_latency(record.gate).observe(record.latency_ms / 1000)

    # -- provider observer hooks (see novaos.providers)
    def set_circuit_state(self, provider: str, state: int, worker: int = 0) -> None:
        self.circuit_state.labels(provider, str(worker)).set(state)

    def provider_failed(self, provider: str, kind: str) -> None:
        self.provider_errors.labels(provider, kind).inc()

    def provider_errors_from_zero(self, provider: str) -> None:
        """Export ``provider``'s error series at 0, so the first failure is a rise."""
        for kind in ERROR_KINDS:
            self.provider_errors.labels(provider, kind)

    def count_tokens(self, provider: str, model: str, kind: str, n: int) -> None:
        if n > 0:
            self._tokens(provider, self._model_label(provider, model), kind).inc(n)

    def keep_models(self, provider: str, models: Iterable[str]) -> None:
        """``provider``'s configured models: counted under their own name whatever
        models clients asked for before."""
        self._kept[provider] = self._kept.get(provider, frozenset()) | frozenset(models)

    def _model_label(self, provider: str, model: str) -> str:
        if model in self._kept.get(provider, ()):
            return model
        seen = self._models.setdefault(provider, set())
        if model in seen:
            return model
        if len(seen) >= MODEL_LABELS_PER_PROVIDER:
            return OTHER_MODEL
        seen.add(model)
        return model

    def first_token(self, provider: str, seconds: float, *, streamed: bool) -> None:
        self._first_token(provider, "server_stream" if streamed else "unary").observe(seconds)

    def inter_token_gap(self, provider: str, seconds: float) -> None:
        self._gaps(provider).observe(seconds)

    # -- limits / storage / audit / web fetch hooks
    def limit_exceeded(self, tier: str, limit: str) -> None:
        self.rate_limited.labels(tier, limit).inc()

    def fallback_active(self, active: bool) -> None:
        self.storage_fallback.set(1 if active else 0)

    def audit_depth(self, depth: int) -> None:
        self.audit_queue.set(depth)

    def chat_request(self, outcome: str) -> None:
        self.chat_requests.labels(outcome).inc()

    def fetched(self, result: str) -> None:
        self.web_fetch.labels(result).inc()
