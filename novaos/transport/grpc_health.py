"""grpc.health.v1: Check and Watch, with watches that end when the server drains.

grpcio-health-checking's aio servicer has no way to end a Watch: at
``enter_graceful_shutdown()`` each one is sent NOT_SERVING and then waits for a
next change that never comes, holding the drain open until gRPC cancels it when
``SHUTDOWN_GRACE_S`` ends (UNAVAILABLE). This servicer keeps its protocol (statuses
per service name, "" overall; Check answers NOT_FOUND for an unknown name, Watch
SERVICE_UNKNOWN; set() is ignored once shutting down) and ends every Watch, status
OK, once it has sent the last status, as audit watches end at shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from novaos.transport.context import Ctx

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


class HealthCheckServicer(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self._status: dict[str, int] = {"": _SERVING}
        self._changed = asyncio.Event()  # replaced at each change: set means "look again"
        self._shutting_down = False

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: Ctx
    ) -> health_pb2.HealthCheckResponse:
        status = self._status.get(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND)
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(
        self, request: health_pb2.HealthCheckRequest, context: Ctx
    ) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        # Yielded, not written through the context: the interceptor counts what a
        # handler yields in grpc_server_msg_sent_total.
        del context
        sent: int | None = None
        while True:
            changed = self._changed  # before reading: a change during the write is seen
            status = self._status.get(request.service, _UNKNOWN)
            if status != sent:
                yield health_pb2.HealthCheckResponse(status=status)
                sent = status
                continue
            if self._shutting_down:
                return  # the last status went out: end now, status OK
            await changed.wait()

    def set(self, service: str, status: int) -> None:
        if self._shutting_down:
            return  # NOT_SERVING is final
        self._status[service] = status
        self._notify()

    def enter_graceful_shutdown(self) -> None:
        """Every name NOT_SERVING for good; each Watch sends it and ends."""
        if self._shutting_down:
            return
        self._shutting_down = True
        self._status = dict.fromkeys(self._status, _NOT_SERVING)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
