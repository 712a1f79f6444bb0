"""Health: liveness, readiness and the detailed view, from real dependencies."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from novaos import __version__
from novaos.ports import KeyValueStore, StoreHealth


@dataclass(frozen=True)
class CircuitView:
    provider: str
    state: str  # closed | open | half_open
    consecutive_failures: int = 0
    retry_at_unix: float = 0.0


@dataclass(frozen=True)
class ProviderView:
    name: str
    model: str
    configured: bool = True


@dataclass(frozen=True)
class AuditView:
    sink: str
    status: str = "ok"  # ok | spilling | down | quarantined (down and spilling take precedence)
    queue_depth: int = 0
    spilled: int = 0
    quarantined: int = 0  # quarantine files beside the spill, whatever the status


class CircuitSource(Protocol):
    def circuits(self) -> Sequence[CircuitView]: ...


class PodCircuits(Protocol):
    """WORKERS>1: the pod's other workers' circuits (breakers are per worker)."""

    def publish(self, usable: bool) -> None:
        """Tell the others whether this worker has a usable circuit."""
        ...

    def others_usable(self) -> bool: ...

    def withdraw(self) -> None: ...


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, str]


@dataclass(frozen=True)
class HealthReport:
    status: str
    version: str
    uptime_s: float
    storage: StoreHealth
    providers: tuple[ProviderView, ...]
    circuits: tuple[CircuitView, ...]
    audit: AuditView


@dataclass
class HealthService:
    store: KeyValueStore
    providers: tuple[ProviderView, ...]
    circuits: CircuitSource | None = None
    audit_status: Callable[[], Awaitable[AuditView]] | None = None
    pod: PodCircuits | None = None  # None: one process, its circuits are the pod's
    started_at: float = field(default_factory=time.monotonic)
    draining: bool = False

    def _circuits(self) -> tuple[CircuitView, ...]:
        if self.circuits is None:
            return tuple(CircuitView(p.name, "closed") for p in self.providers)
        return tuple(self.circuits.circuits())

    async def _audit(self) -> AuditView:
        return await self.audit_status() if self.audit_status else AuditView("memory")

    def circuits_usable(self) -> bool:
        """This worker has a circuit that is not open (half-open lets a trial through)."""
        return any(c.state != "open" for c in self._circuits())

    def publish_circuits(self) -> None:
        if self.pod is not None:
            self.pod.publish(self.circuits_usable())

    async def ready(self) -> Readiness:
        """The pod's readiness. Circuits count for the pod: one worker with every
        circuit open stays ready while another worker has a usable one (its own
        chats get UNAVAILABLE), so every worker gives the kubelet the same answer.
        Storage, audit and draining are each worker's own."""
        storage = await self.store.health()
        audit = await self._audit()
        usable = self.circuits_usable() or (self.pod is not None and self.pod.others_usable())
        checks = {
            "storage": storage.status,
            "providers": "ok" if usable else "all_circuits_open",
            "audit": audit.status,
            "lifecycle": "draining" if self.draining else "ok",
        }
        # Not storage.cause: /ready is public, and a refusal's text can name the
        # Redis user, internal host names, the ACL it lacks. The log says why.
        ok = (
            storage.status in ("ok", "fallback")
            and usable
            and audit.status != "down"
            and not self.draining
        )
        return Readiness(ok, checks)

    async def report(self) -> HealthReport:
        storage = await self.store.health()
        circuits = self._circuits()
        audit = await self._audit()
        degraded = (
            storage.status != "ok"
            or audit.status != "ok"
            or any(c.state != "closed" for c in circuits)
        )
        down = storage.status == "down" or all(c.state == "open" for c in circuits)
        status = "down" if down else "degraded" if degraded else "ok"
        return HealthReport(
            status=status,
            version=__version__,
            uptime_s=time.monotonic() - self.started_at,
            storage=storage,
            providers=self.providers,
            circuits=circuits,
            audit=audit,
        )
