"""HealthService servicer and the grpc.health.v1 status updater."""

from __future__ import annotations

from generated.novaos.v1 import health_pb2, health_pb2_grpc
from novaos.errors import InvalidArgumentError, NotFoundError, NotReadyError
from novaos.services.health import CircuitView, HealthService
from novaos.transport.context import Ctx

_STATES = {
    "closed": health_pb2.CIRCUIT_STATE_CLOSED,
    "open": health_pb2.CIRCUIT_STATE_OPEN,
    "half_open": health_pb2.CIRCUIT_STATE_HALF_OPEN,
}


def circuit_pb(c: CircuitView) -> health_pb2.Circuit:
    return health_pb2.Circuit(
        provider=c.provider,
        state=_STATES.get(c.state, health_pb2.CIRCUIT_STATE_UNSPECIFIED),
        consecutive_failures=c.consecutive_failures,
        retry_at_unix=c.retry_at_unix,
    )


class HealthServicer(health_pb2_grpc.HealthServiceServicer):
    def __init__(self, service: HealthService) -> None:
        self._service = service

    async def Live(self, request: health_pb2.LiveRequest, context: Ctx) -> health_pb2.LiveResponse:
        return health_pb2.LiveResponse(status="ok")

    async def Ready(
        self, request: health_pb2.ReadyRequest, context: Ctx
    ) -> health_pb2.ReadyResponse:
        ready = await self._service.ready()
        if not ready.ready:
            # An error status, not a reply with a status set: gRPC would send that
            # reply's empty body first, and Envoy would answer {"status":""} with the
            # checks lost. This way HTTP gets a 503 JSON status naming every check.
            checks = ", ".join(f"{k}={v}" for k, v in ready.checks.items())
            raise NotReadyError(f"not ready: {checks}", metadata=dict(ready.checks))
        return health_pb2.ReadyResponse(status="ready", checks=ready.checks)

    async def GetHealth(
        self, request: health_pb2.GetHealthRequest, context: Ctx
    ) -> health_pb2.GetHealthResponse:
        r = await self._service.report()
        return health_pb2.GetHealthResponse(
            status=r.status,
            version=r.version,
            uptime_s=r.uptime_s,
            storage=health_pb2.StorageHealth(
                backend=r.storage.backend, status=r.storage.status, latency_ms=r.storage.latency_ms
            ),
            providers=[
                health_pb2.ProviderHealth(name=p.name, model=p.model, configured=p.configured)
                for p in r.providers
            ],
            circuits=[circuit_pb(c) for c in r.circuits],
            audit=health_pb2.AuditHealth(
                sink=r.audit.sink,
                status=r.audit.status,
                queue_depth=r.audit.queue_depth,
                spilled=r.audit.spilled,
                quarantined=r.audit.quarantined,
            ),
        )

    async def ListCircuits(
        self, request: health_pb2.ListCircuitsRequest, context: Ctx
    ) -> health_pb2.ListCircuitsResponse:
        report = await self._service.report()
        return health_pb2.ListCircuitsResponse(circuits=[circuit_pb(c) for c in report.circuits])

    async def ResetCircuit(
        self, request: health_pb2.ResetCircuitRequest, context: Ctx
    ) -> health_pb2.ResetCircuitResponse:
        if not request.provider:
            raise InvalidArgumentError("provider", "is required")
        reset = getattr(self._service.circuits, "reset", None)
        if reset is None:
            raise NotFoundError(f"no circuit breaker for provider {request.provider!r}")
        view: CircuitView = reset(request.provider)
        return health_pb2.ResetCircuitResponse(circuit=circuit_pb(view))
