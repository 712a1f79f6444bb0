"""The composition root: the only module that picks adapters.

``App.start()`` builds every part from one ``Settings`` object and starts
the gRPC server; ``App.drain()`` is the graceful shutdown SIGTERM triggers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import grpc

from novaos.audit.recent import RecentRequests
from novaos.config import Settings
from novaos.observability.metrics import Metrics
from novaos.pipeline.generation import Generator
from novaos.pipeline.orchestrator import Orchestrator, PipelinePlan
from novaos.pipeline.release import SentenceRelease
from novaos.ports import CircuitInfo, Provider
from novaos.providers.factory import build_providers, build_router
from novaos.providers.mock import MockProvider, load_script
from novaos.providers.router import ProviderRouter
from novaos.services.chat import ChatLimits, ChatService
from novaos.services.health import CircuitView, HealthService, ProviderView
from novaos.storage.memory import MemoryStore
from novaos.transport.audit_servicer import AuditServicer
from novaos.transport.auth import JwtAuthenticator, JwtConfig
from novaos.transport.chat_servicer import ChatServicer
from novaos.transport.health_servicer import HealthServicer
from novaos.transport.server import GrpcHealth, Servicers, create_server

_log = logging.getLogger("novaos.app")
_CIRCUIT_STATES = {0: "closed", 1: "open", 2: "half_open"}


@dataclass(frozen=True)
class ProviderMetrics:
    """The router's observer hooks, fed into Prometheus.

    Tokens and time-to-first-token are counted once per request by the chat
    servicer from the generation stats; counting them here too would double them.
    """

    metrics: Metrics

    def circuit_state(self, provider: str, state: int) -> None:
        self.metrics.set_circuit_state(provider, state)

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
    audit_log: RecentRequests | None = None
    readiness_interval_s: float = 1.0
    _watcher: asyncio.Task[None] | None = None

    def _auth(self) -> JwtAuthenticator:
        s = self.settings
        secret = s.jwt_secret.get_secret_value() if s.jwt_secret else ""
        return JwtAuthenticator(
            JwtConfig(secret, s.require_auth, s.jwt_issuer, s.jwt_audience, s.jwt_expiry_s)
        )

    def _router(self) -> ProviderRouter:
        s = self.settings
        providers: dict[str, Provider] = dict(build_providers(s))
        if "mock" in (s.preferred_provider, *s.provider_fallback_order):
            self.provider = MockProvider(
                token_delay_ms=s.mock_token_delay_ms,
                response_tokens=s.mock_response_tokens,
                script=load_script(s.mock_script_file),
            )
            providers["mock"] = self.provider
        self.router = build_router(s, providers, ProviderMetrics(self.metrics))
        return self.router

    def _chat(self, store: MemoryStore) -> ChatService:
        s = self.settings
        generator = Generator(self._router(), SentenceRelease())
        orchestrator = Orchestrator(
            PipelinePlan(pre_model=()),
            generator,
            holdback_chars=s.output_holdback_chars,
            default_max_tokens=s.default_max_tokens,
            pipeline_timeout_s=s.pipeline_timeout_ms / 1000,
            observer=self.metrics,
        )
        self.audit_log = RecentRequests(s.audit_memory_capacity)
        limits = ChatLimits(s.max_message_chars, default_max_tokens=s.default_max_tokens)
        del store
        return ChatService(orchestrator, self.audit_log, limits)

    async def start(self) -> int:
        s = self.settings
        store = MemoryStore()
        chat = self._chat(store)
        assert self.router is not None and self.audit_log is not None
        views = tuple(ProviderView(p.name, p.model, p.configured) for p in self.router.providers())
        self.health = HealthService(store, views, circuits=RouterCircuits(self.router))
        servicers = Servicers(
            ChatServicer(chat, self.metrics, s.novaos_worker_index),
            AuditServicer(self.audit_log),
            HealthServicer(self.health),
        )
        self.server, self.port = create_server(
            servicers,
            self._auth(),
            self.metrics,
            self.grpc_health,
            address=f"{s.grpc_host}:{s.grpc_port}",
            trust_proxy=s.trust_proxy,
        )
        await self.server.start()
        await self.grpc_health.set_serving(True)
        self._watcher = asyncio.create_task(self._watch_readiness(), name="readiness")
        _log.info("gRPC server listening", extra={"component": "server", "port": self.port})
        return self.port

    async def _watch_readiness(self) -> None:
        """Keep grpc.health.v1 in step with readiness (storage, circuits, audit)."""
        assert self.health is not None
        serving = True
        while True:
            await asyncio.sleep(self.readiness_interval_s)
            ready = (await self.health.ready()).ready
            if ready != serving:
                serving = ready
                _log.warning("readiness changed", extra={"component": "health", "ready": ready})
                await self.grpc_health.set_serving(ready)

    async def drain(self, grace_s: float | None = None) -> None:
        """Health NOT_SERVING, refuse new RPCs, give open streams a grace period."""
        if self.health is not None:
            self.health.draining = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self.grpc_health.drain()
        if self.server is not None:
            await self.server.stop(self.settings.shutdown_grace_s if grace_s is None else grace_s)
        if self.router is not None:
            await self.router.aclose()  # after the streams ended: frees the provider pools
        await asyncio.sleep(0)
