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
from novaos.conversations import ConversationHistory
from novaos.limits import LeaseLimiter, PrincipalAdmission
from novaos.observability.metrics import Metrics
from novaos.pipeline.generation import Generator
from novaos.pipeline.orchestrator import Orchestrator, PipelinePlan
from novaos.pipeline.release import SentenceRelease
from novaos.ports import KeyValueStore
from novaos.providers.direct import DirectRouter
from novaos.providers.mock import MockProvider, load_script
from novaos.services.chat import ChatLimits, ChatService
from novaos.services.health import HealthService, ProviderView
from novaos.storage import FailoverStore, build_limiter, build_store
from novaos.transport.audit_servicer import AuditServicer
from novaos.transport.auth import JwtAuthenticator, JwtConfig
from novaos.transport.chat_servicer import ChatServicer
from novaos.transport.health_servicer import HealthServicer
from novaos.transport.server import GrpcHealth, Servicers, create_server

_log = logging.getLogger("novaos.app")


@dataclass
class App:
    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    server: grpc.aio.Server | None = None
    port: int = 0
    health: HealthService | None = None
    grpc_health: GrpcHealth = field(default_factory=GrpcHealth)
    provider: MockProvider | None = None
    audit_log: RecentRequests | None = None
    readiness_interval_s: float = 1.0
    store: KeyValueStore | None = None
    limiter: LeaseLimiter | None = None
    conversations: ConversationHistory | None = None
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
        store = build_store(s, observer=self.metrics)
        if isinstance(store, FailoverStore):
            await store.connect()  # an absent Redis is reported at boot
        self.store = store
        self.limiter = build_limiter(s, store, observer=self.metrics)
        self.conversations = ConversationHistory(
            store, max_turns=s.conversation_max_turns, ttl_s=s.conversation_ttl_s
        )
        return store

    def _chat(self) -> ChatService:
        s = self.settings
        self.provider = MockProvider(
            token_delay_ms=s.mock_token_delay_ms,
            response_tokens=s.mock_response_tokens,
            script=load_script(s.mock_script_file),
        )
        generator = Generator(DirectRouter(self.provider), SentenceRelease())
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
        assert self.limiter is not None
        return ChatService(
            orchestrator,
            self.audit_log,
            limits,
            admission=PrincipalAdmission(self.limiter),
            conversations=self.conversations,
        )

    async def start(self) -> int:
        s = self.settings
        store = await self._storage()
        chat = self._chat()
        assert self.provider is not None and self.audit_log is not None
        self.health = HealthService(store, (ProviderView("mock", self.provider.default_model),))
        servicers = Servicers(
            ChatServicer(chat, self.metrics, self.conversations),
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
        if self.limiter is not None:
            await self.limiter.aclose()  # finish in-flight lease releases before the store goes
        if self.store is not None:
            await self.store.aclose()
        await asyncio.sleep(0)
