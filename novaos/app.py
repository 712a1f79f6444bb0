"""The composition root: the only module that picks adapters.

``App.start()`` builds every part from one ``Settings`` object and starts
the gRPC server; ``App.drain()`` is the graceful shutdown SIGTERM triggers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psycopg
from psycopg.conninfo import conninfo_to_dict

from novaos.audit.chain import ChainKeys
from novaos.audit.reader import AuditReader
from novaos.audit.record import AuditPolicy
from novaos.audit.sink import AuditSink
from novaos.audit.sinks.file import FileAuditSink
from novaos.audit.sinks.memory import MemoryAuditSink
from novaos.audit.sinks.postgres import PostgresAuditSink
from novaos.audit.watch import SharedFanout, WatchHub
from novaos.audit.writer import AuditWriter
from novaos.config import AuditStorage, Environment, Settings
from novaos.conversations import (
    ConversationHistory,
    conversation_key_group,
    conversation_of_key,
    conversation_tombstone,
)
from novaos.errors import ConfigError
from novaos.limits import LeaseLimiter, PrincipalAdmission
from novaos.observability.audit_metrics import AuditMetrics
from novaos.observability.logging import RequestLogger
from novaos.observability.metrics import Metrics
from novaos.pipeline.ack import is_nonce_key
from novaos.pipeline.assembly import build_pipeline
from novaos.pipeline.gates.model import system_prompt_bound
from novaos.pipeline.gates.shield import default_classifier
from novaos.pipeline.gates.shield_gate import ShieldGate, VetoThrottle
from novaos.pipeline.generation import Generator
from novaos.pipeline.orchestrator import Orchestrator
from novaos.pod_audit import FilePodChainAlarm, chain_alarm_dir
from novaos.pod_circuits import FilePodCircuits, circuits_dir
from novaos.ports import CircuitInfo, KeyValueStore, Provider
from novaos.providers.factory import build_providers, build_router
from novaos.providers.mock import MockProvider, load_script
from novaos.providers.router import ProviderRouter
from novaos.services.chat import (
    UNARY_STOP_MARGIN_S,
    UNARY_STOP_MARGIN_STORED_S,
    ChatLimits,
    ChatService,
)
from novaos.services.health import AuditView, CircuitView, HealthService, ProviderView
from novaos.storage import FailoverStore, MemoryStore, build_limiter, build_store
from novaos.storage.redis_channel import RedisChannel, database_number
from novaos.tasks import cancel_and_wait
from novaos.transport.audit_servicer import AuditServicer
from novaos.transport.auth import JwtAuthenticator, JwtConfig
from novaos.transport.chat_servicer import ChatServicer
from novaos.transport.health_servicer import HealthServicer
from novaos.transport.server import GrpcHealth, Servicers, create_server, grpc_address
from novaos.webfetch import build_fetcher

_log = logging.getLogger("novaos.app")
_CIRCUIT_STATES = {0: "closed", 1: "open", 2: "half_open"}
_SHUTTING_DOWN = "server shutting down"
# At shutdown the audit sink gets this long to take what is still queued (the
# records of the streams just ended in-band, 1 s before the grace ends); a sink
# that hangs or refuses connections would otherwise hold the drain for its own
# timeouts (10 s per call) until the supervisor or kubelet kills the process and
# the records with it. What it has not taken by then goes to the fsynced spill.
_AUDIT_CLOSE_WAIT_S = 1.0


@dataclass(frozen=True)
class ProviderMetrics:
    """The router's observer hooks, fed into Prometheus.

    Tokens and time-to-first-token are counted once per request by the chat
    servicer from the generation stats; counting them here too would double them.
    """

    metrics: Metrics
    worker: int = 0  # NOVAOS_WORKER_INDEX: each worker's breakers are its own

    def circuit_state(self, provider: str, state: int) -> None:
        self.metrics.set_circuit_state(provider, state, self.worker)

    def failed(self, provider: str, kind: str) -> None:
        self.metrics.provider_failed(provider, kind)

    def tokens(self, provider: str, model: str, kind: str, n: int) -> None:
        return None

    def first_token(self, provider: str, seconds: float) -> None:
        return None

    def inter_token(self, provider: str, seconds: float) -> None:
        self.metrics.inter_token_gap(provider, seconds)


@dataclass(frozen=True)
class RouterCircuits:
    """The router's breakers as the health service shows and resets them."""

    router: ProviderRouter

    def circuits(self) -> list[CircuitView]:
        return [_circuit_view(info) for info in self.router.circuits()]

    def reset(self, provider: str) -> CircuitView:
        return _circuit_view(self.router.reset(provider))


def _circuit_view(info: CircuitInfo) -> CircuitView:
    return CircuitView(
        info.provider, _CIRCUIT_STATES[info.state], info.consecutive_failures, info.retry_at_unix
    )


def chain_keys(settings: Settings) -> ChainKeys:
    """AUDIT_CHAIN_KEY seals, it and AUDIT_CHAIN_PREVIOUS_KEYS verify."""
    current = settings.audit_chain_key
    return ChainKeys.of(
        current.get_secret_value().encode() if current else None,
        [k.get_secret_value().encode() for k in settings.audit_chain_previous_keys],
    )


# Values libpq refuses at every connect ("invalid sslmode value"): parsed, they
# are not checked, and the pool retried them for ever while the audit spilled.
_CONNINFO_CHOICES = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "gssencmode": ("disable", "prefer", "require"),
    "channel_binding": ("disable", "prefer", "require"),
    "load_balance_hosts": ("disable", "random"),
    "target_session_attrs": (
        "any",
        "read-write",
        "read-only",
        "primary",
        "standby",
        "prefer-standby",
    ),
}


_LIBPQ_INT = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)[ \t\n\v\f\r]*")


def conninfo_problem(params: Mapping[str, object]) -> str | None:
    """Why libpq would refuse these parsed connection parameters at every connect,
    or None. Quotes only the values checked, never the password."""
    for port in str(params.get("port") or "").split(","):
        # An empty entry is the default port; any other is read as libpq's strtol
        # does: C blanks around, a sign, ASCII digits (str.isdigit took "５４３２",
        # and refused "+5432", which libpq connects to).
        number = _LIBPQ_INT.fullmatch(port)
        if port and not (number and 1 <= int(number[1]) <= 65535):
            return f"port {port!r} is not a port number (1-65535)"
    for key, choices in _CONNINFO_CHOICES.items():
        value = params.get(key)
        if value is not None and value not in choices:
            return f"{key} {value!r} is not one of {', '.join(choices)}"
    return None


def build_audit_sink(settings: Settings, keys: ChainKeys) -> AuditSink:
    """AUDIT_STORAGE_TYPE picks the sink; ``keys`` seal what it re-chains."""
    if settings.audit_storage_type is AuditStorage.DATABASE:
        try:
            params = conninfo_to_dict(settings.database_url)
        except psycopg.ProgrammingError:
            # A string that does not parse is a mistake to fix, not an outage to
            # spill through (the pool would retry it for ever). Neither it nor
            # libpq's message (which quotes it) is repeated: it may hold a password.
            raise ConfigError(
                "invalid configuration: DATABASE_URL: not a PostgreSQL connection string "
                "(postgresql://user:password@host:5432/db, or key=value pairs)"
            ) from None
        if problem := conninfo_problem(params):
            raise ConfigError(f"invalid configuration: DATABASE_URL: {problem}")
        return PostgresAuditSink(
            settings.database_url,
            pool_size=settings.audit_db_pool_size,
            retry_max_backoff_s=settings.audit_retry_max_backoff_ms / 1000,
            keys=keys,
        )
    if settings.audit_storage_type is AuditStorage.FILE:
        return FileAuditSink(
            settings.audit_file_path,
            max_bytes=settings.audit_file_max_bytes,
            fsync=settings.audit_fsync,
            keys=keys,
        )
    return MemoryAuditSink(settings.audit_memory_capacity, keys=keys)


AUDIT_WATCH_CHANNEL = "audit:records"


def audit_watch_channel(settings: Settings) -> str:
    """``audit:records:<chain>``: one channel per shared chain, so gateways that share
    a Redis but not an audit log (file sinks on different hosts, different databases)
    never hear each other's records. The Redis database number is part of it: pub/sub
    ignores it, and two deployments on one server (staging on db 1, prod on db 0) may
    each name their database alike (``postgres:5432/novaos`` in its own namespace).
    Names no secret: no password goes into it."""
    if settings.audit_storage_type is AuditStorage.DATABASE:
        try:
            dsn = conninfo_to_dict(settings.database_url)
        except psycopg.Error:
            dsn = {}
        where = ":".join(str(dsn.get(k, "")) for k in ("host", "port", "dbname"))
        chain = f"database:{where}"
    else:
        chain = f"file:{socket.gethostname()}:{settings.audit_file_path.resolve()}"
    redis_db = 0 if settings.redis_cluster_nodes else database_number(settings.redis_url)
    chain = f"redis-db:{redis_db}:{chain}"
    return f"{AUDIT_WATCH_CHANNEL}:{hashlib.sha256(chain.encode()).hexdigest()[:16]}"


def build_watch_hub(settings: Settings, sink: AuditSink, keys: ChainKeys) -> WatchHub | None:
    """Worker processes (WORKERS>1) on one shared chain (file or database sink) and
    one Redis: watchers must hear every worker's records, over a Redis channel.
    Otherwise (one process, no Redis, or a memory sink, which is per process)
    the writer's own fan-out is all there is."""
    if not (
        settings.novaos_supervisor_pid > 0
        and settings.shared_store
        and settings.audit_storage_type is not AuditStorage.MEMORY
    ):
        return None
    channel = RedisChannel.connect(
        audit_watch_channel(settings),
        url=settings.redis_url,
        cluster_nodes=settings.redis_cluster_nodes,
        timeout_s=settings.redis_command_timeout_ms / 1000,
    )
    return SharedFanout(
        channel,
        sink,
        maxsize=settings.audit_watch_queue_size,
        min_backoff_s=settings.redis_reconnect_min_backoff_ms / 1000,
        max_backoff_s=settings.redis_reconnect_max_backoff_ms / 1000,
        keys=keys,  # records heard from other workers are checked under them
    )


def spill_location(settings: Settings) -> tuple[Path | None, str]:
    """The spill file, and the variable it comes from (for start-up errors). Unset,
    it lies under AUDIT_FILE_PATH for the database sink too (docs/operations.md says
    so); the memory sink cannot fail and has none."""
    if settings.audit_spill_path is not None:
        return settings.audit_spill_path, "AUDIT_SPILL_PATH"
    if settings.audit_storage_type is AuditStorage.MEMORY:
        return None, "AUDIT_SPILL_PATH"
    return settings.audit_file_path / "spill" / "spill.jsonl", "AUDIT_FILE_PATH"


def build_audit_writer(settings: Settings, metrics: Metrics) -> AuditWriter:
    keys = chain_keys(settings)  # one keyring: the writer seals, the sink re-chains
    sink = build_audit_sink(settings, keys)
    spill, spill_setting = spill_location(settings)
    return AuditWriter(
        sink,
        AuditPolicy.from_settings(settings),
        spill_path=spill,
        spill_setting=spill_setting,
        queue_size=settings.audit_queue_size,
        batch_size=settings.audit_batch_size,
        max_backoff_s=settings.audit_retry_max_backoff_ms / 1000,
        watch_queue_size=settings.audit_watch_queue_size,
        watch_hub=build_watch_hub(settings, sink, keys),
        observer=AuditMetrics(metrics, sink.name),
        store_before_reply=settings.audit_store_before_reply,
        keys=keys,
        chain_alarm=pod_chain_alarm(settings),
    )


def pod_chain_alarm(settings: Settings) -> FilePodChainAlarm | None:
    """Under the supervisor: a broken chain one worker finds is the pod's, through its
    run directory (one process: its own finding is the pod's)."""
    if not settings.novaos_run_dir:
        return None
    return FilePodChainAlarm(chain_alarm_dir(settings.novaos_run_dir), settings.novaos_worker_index)


@dataclass
class App:
    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    server: grpc.aio.Server | None = None
    port: int = 0
    health: HealthService | None = None
    grpc_health: GrpcHealth = field(default_factory=GrpcHealth)
    provider: MockProvider | None = None  # the mock, when PREFERRED_PROVIDER / fallbacks name it
    router: ProviderRouter | None = None
    audit_log: AuditWriter | None = None
    audit_reader: AuditReader | None = None
    chat: ChatService | None = None
    store: KeyValueStore | None = None
    limiter: LeaseLimiter | None = None
    conversations: ConversationHistory | None = None
    shield: ShieldGate | None = None  # its worker threads stop at shutdown
    readiness_interval_s: float = 1.0
    _watcher: asyncio.Task[None] | None = None

    def _auth(self) -> JwtAuthenticator:
        s = self.settings
        secret = s.jwt_secret.get_secret_value() if s.jwt_secret else ""
        return JwtAuthenticator(
            JwtConfig(secret, s.require_auth, s.jwt_issuer, s.jwt_audience, s.jwt_expiry_s)
        )

    async def _storage(self) -> KeyValueStore:
        """Store, limiter and history: Redis (with memory fallback) or memory."""
        s = self.settings
        store = build_store(
            s,
            observer=self.metrics,
            history_group=conversation_key_group,
            copy_back=is_nonce_key,
            conversation_of=conversation_of_key,
            tombstone=conversation_tombstone,
        )
        self.store = store  # before the first await: a stop during start-up closes it
        if isinstance(store, FailoverStore):
            await store.connect()  # an absent Redis is reported at boot
        self.limiter = build_limiter(s, store, observer=self.metrics)
        self.conversations = ConversationHistory(
            store,
            max_turns=s.conversation_max_turns,
            ttl_s=s.conversation_ttl_s,
            fallback=store if isinstance(store, FailoverStore) else None,
        )
        return store

    def _router(self) -> ProviderRouter:
        s = self.settings
        providers: dict[str, Provider] = dict(build_providers(s))
        if "mock" in (s.preferred_provider, *s.provider_fallback_order):
            try:
                script = load_script(s.mock_script_file)
            except (OSError, ValueError) as exc:  # missing, unreadable, not the JSON shape
                raise ConfigError(f"invalid configuration: MOCK_SCRIPT_FILE: {exc}") from None
            self.provider = MockProvider(
                token_delay_ms=s.mock_token_delay_ms,
                response_tokens=s.mock_response_tokens,
                script=script,
            )
            providers["mock"] = self.provider
        self.router = build_router(
            s, providers, ProviderMetrics(self.metrics, s.novaos_worker_index)
        )
        for info in self.router.providers():
            if info.configured:  # its model (OPENAI_MODEL, ...) never counts as "other"
                self.metrics.keep_models(info.name, (info.model,))
                self.metrics.provider_errors_from_zero(info.name)
        return self.router

    def _orchestrator(self, store: KeyValueStore) -> Orchestrator:
        s = self.settings
        throttle = VetoThrottle(
            store, limit=s.shield_veto_limit, window_ms=s.shield_veto_window_s * 1000
        )
        classifier = default_classifier()
        self.shield = ShieldGate(classifier, throttle, budget_ms=s.shield_budget_ms)
        pipeline = build_pipeline(
            s,
            store,
            shield=self.shield,
            harm_check=classifier.classify_answer,  # the shield's categories on the output
            source_screen=classifier.screen_source,  # and on the pages the lens fetched
            ack_prompt=classifier.ack_prompt,
            messages=classifier.policy.messages_for,
            # None when ENABLE_WEB_FETCH=false: the lens then degrades and opens no socket.
            fetcher=build_fetcher(s, observer=self.metrics),
        )
        return Orchestrator(
            pipeline.plan,
            Generator(self._router(), pipeline.checker),
            holdback_chars=s.output_holdback_chars,
            default_max_tokens=s.default_max_tokens,
            pipeline_timeout_s=s.pipeline_timeout_ms / 1000,
            observer=self.metrics,
            crisis_block=classifier.crisis_block,
            store_wait_s=_store_wait_s(s, store),
        )

    def _chat(self, store: KeyValueStore) -> ChatService:
        s = self.settings
        assert self.audit_log is not None and self.limiter is not None
        orchestrator = self._orchestrator(store)  # builds self.router
        assert self.router is not None
        limits = ChatLimits(
            s.max_message_chars,
            default_max_tokens=s.default_max_tokens,
            prompt_allowance_tokens=system_prompt_bound(),
            providers=frozenset(p.name for p in self.router.providers() if p.configured),
        )
        return ChatService(
            orchestrator,
            RequestLogger(self.audit_log, outcomes=self.metrics.chat_request),
            limits,
            admission=PrincipalAdmission(self.limiter),
            conversations=self.conversations,
            policy_version=default_classifier().version,
            keepalive_s=s.stream_keepalive_s,
            unary_stop_margin_s=(
                UNARY_STOP_MARGIN_STORED_S if s.audit_store_before_reply else UNARY_STOP_MARGIN_S
            ),
        )

    async def _start_audit(self) -> AuditWriter:
        writer = self.audit_log = build_audit_writer(self.settings, self.metrics)
        await writer.start()  # a sink that is down at start spills until it is back
        self.audit_reader = AuditReader(writer.sink, writer)
        return writer

    async def _audit_view(self) -> AuditView:
        assert self.audit_log is not None
        st = self.audit_log.status()
        return AuditView(st.sink, st.status, st.queue_depth, st.spilled, st.quarantined)

    async def start(self) -> int:
        s = self.settings
        if s.port is not None:
            _log.warning(
                "PORT is not used: gRPC listens on GRPC_PORT, /metrics on METRICS_PORT, "
                "HTTP/JSON/SSE on the Envoy sidecar's ENVOY_HTTPS_PORT",
                extra={"component": "config", "port": s.port},
            )
        if s.node_env is Environment.PRODUCTION and not s.require_auth:
            _log.warning(
                "REQUIRE_AUTH=false in production: a caller without a token is anonymous, "
                "on the free tier's limits per client address",
                extra={"component": "config"},
            )
        # Unset PREFERRED_PROVIDER is refused in production (providers/factory.py): only
        # a mock named on purpose is warned of, not one about to be refused.
        chosen = "preferred_provider" in s.model_fields_set
        if (
            s.node_env is Environment.PRODUCTION
            and chosen
            and "mock" in (s.preferred_provider, *s.provider_fallback_order)
        ):
            _log.warning(
                "the mock provider is configured in production (PREFERRED_PROVIDER or "
                "PROVIDER_FALLBACK_ORDER): its answers are canned text, not a model's",
                extra={"component": "config"},
            )
        if s.node_env is Environment.PRODUCTION and s.audit_chain_key is None:
            _log.warning(
                "AUDIT_CHAIN_KEY is not set: the audit hash chain is plain SHA-256, so "
                "someone who can rewrite the audit storage can recompute it",
                extra={"component": "config"},
            )
        store = await self._storage()
        await self._start_audit()
        chat = self.chat = self._chat(store)
        assert self.router is not None and self.audit_reader is not None
        views = tuple(ProviderView(p.name, p.model, p.configured) for p in self.router.providers())
        self.health = HealthService(
            store,
            views,
            circuits=RouterCircuits(self.router),
            audit_status=self._audit_view,
            pod=self._pod_circuits(),
        )
        servicers = Servicers(
            ChatServicer(chat, self.metrics, self.conversations, s.novaos_worker_index),
            AuditServicer(self.audit_reader, s.stream_keepalive_s, s.novaos_worker_index),
            HealthServicer(self.health),
        )
        self.server, self.port = create_server(
            servicers,
            self._auth(),
            self.metrics,
            self.grpc_health,
            address=grpc_address(s.grpc_host, s.grpc_port),
            trust_proxy=s.trust_proxy,
            worker=s.novaos_worker_index,
            share_port=s.novaos_supervisor_pid > 0,
        )
        await self.server.start()
        # Evaluated before the first answer: an audit sink or Redis already
        # down at start must not be reported ready for the first interval.
        assert self.health is not None
        self.health.publish_circuits()
        serving = (await self.health.ready()).ready
        await self.grpc_health.set_serving(serving)
        self._watcher = asyncio.create_task(self._watch_readiness(serving), name="readiness")
        _log.info("gRPC server listening", extra={"component": "server", "port": self.port})
        return self.port

    def _pod_circuits(self) -> FilePodCircuits | None:
        """Under the supervisor: the other workers' circuits, through its run directory."""
        s = self.settings
        if not s.novaos_run_dir:
            return None
        # A worker that has not rewritten its state for a few ticks is stopped or wedged.
        stale_after_s = max(5.0, 5 * self.readiness_interval_s)
        return FilePodCircuits(
            circuits_dir(s.novaos_run_dir), s.novaos_worker_index, stale_after_s=stale_after_s
        )

    def _report_memory_store(self) -> None:
        store = self.store.fallback if isinstance(self.store, FailoverStore) else self.store
        if isinstance(store, MemoryStore):
            self.metrics.memory_store_keys.set(store.key_count())

    async def _watch_readiness(self, serving: bool) -> None:
        """Keep grpc.health.v1 in step with readiness (storage, circuits, audit)."""
        assert self.health is not None
        while True:
            await asyncio.sleep(self.readiness_interval_s)
            self._report_memory_store()
            self.health.publish_circuits()  # each tick: a file that stops changing is stale
            ready = (await self.health.ready()).ready
            if ready != serving:
                serving = ready
                _log.warning("readiness changed", extra={"component": "health", "ready": ready})
                await self.grpc_health.set_serving(ready)

    async def _stop_server(self, grace_s: float) -> None:
        """Refuse new RPCs; what still runs when the grace ends, gRPC cancels. Audit
        watches end at once (status OK); just before the grace ends, open chat
        streams are told to end in-band (a terminal event with outcome CANCELLED),
        so none of them just stops."""
        assert self.server is not None
        stopped = asyncio.ensure_future(self.server.stop(grace_s))
        # Only once the listener is closed say NOT_SERVING, so whoever hears it
        # finds new connections already refused.
        await self._listener_closed()
        await self.grpc_health.drain()
        # A watch has nothing to finish: it gets what was already queued for it and
        # ends OK now, rather than hold the drain open until gRPC cancels it.
        watches = self.audit_log.end_watches() if self.audit_log is not None else 0
        if watches:
            extra = {"component": "server", "watches": watches}
            _log.info("ending open audit watches", extra=extra)
        # Time to end in-band: stop the pipeline, send one event, audit.
        done, _ = await asyncio.wait({stopped}, timeout=grace_s - min(1.0, grace_s / 2))
        if not done and self.chat is not None:
            ending = self.chat.stop_streams(_SHUTTING_DOWN)
            _log.info("ending open streams", extra={"component": "server", "streams": ending})
        await stopped

    async def _listener_closed(self, within_s: float = 1.0) -> None:
        """Wait (at most ``within_s``) until a dial to our port is refused: stop()
        asks grpc core to close the listener, which it does on its own threads,
        a moment later on a busy machine."""
        host = self.settings.grpc_host
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        await asyncio.sleep(0)  # stop() runs to its first suspension
        while loop.time() < deadline:
            try:
                _, writer = await asyncio.open_connection(host, self.port)
            except OSError:
                return  # refused: closed
            writer.close()
            await asyncio.sleep(0.005)

    async def drain(self, grace_s: float | None = None) -> None:
        """Health NOT_SERVING, refuse new RPCs, give open streams a grace period."""
        if self.health is not None:
            self.health.draining = True
        if self._watcher is not None:
            await cancel_and_wait(self._watcher)  # a cancel of drain itself still propagates
        if self.health is not None and self.health.pod is not None:
            self.health.pod.withdraw()  # after the watcher: it would publish it again
        if self.server is not None:
            await self._stop_server(self.settings.shutdown_grace_s if grace_s is None else grace_s)
        else:
            await self.grpc_health.drain()
        if self.audit_log is not None:
            # From the grace's end, not from the close below: the steps before it
            # wait on a hung Redis (lease releases) for seconds of their own.
            self.audit_log.cut_sink_calls(_AUDIT_CLOSE_WAIT_S)
        if self.chat is not None and not await self.chat.drained(timeout_s=5.0):
            _log.error("chat streams still running after stop", extra={"component": "server"})
        if self.shield is not None:
            self.shield.close()
        if self.router is not None:
            await self.router.aclose()  # after the streams ended: frees the provider pools
        if self.limiter is not None:
            await self.limiter.aclose()  # finish in-flight lease releases before the store goes
        if self.audit_log is not None:
            # Drains: every finished request is written or, past the cut, spilled.
            await self.audit_log.aclose()
        if self.store is not None:
            await self.store.aclose()


def _store_wait_s(settings: Settings, store: KeyValueStore) -> float:
    """The longest one store call waits before the store gives up on Redis and
    answers from memory (a cluster client tries a second node: twice that)."""
    if store.backend == "memory":
        return 0.0  # its calls never wait
    tries = 2 if settings.redis_cluster_nodes else 1
    return tries * settings.redis_command_timeout_ms / 1000
