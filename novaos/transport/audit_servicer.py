"""AuditService servicer over the in-memory request log (admin only; the
interceptor enforces the role)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from google.protobuf import timestamp_pb2

from generated.novaos.v1 import audit_pb2, audit_pb2_grpc
from novaos.audit.recent import RecentRequests
from novaos.errors import NotFoundError
from novaos.ports import RequestSummary
from novaos.transport.context import Ctx


def _event(seq: int, s: RequestSummary) -> audit_pb2.AuditEvent:
    return audit_pb2.AuditEvent(
        id=s.request_id,
        seq=seq,
        time=timestamp_pb2.Timestamp(),
        request_id=s.request_id,
        user=s.user_id,
        tier=s.tier,
        outcome=s.outcome,
        stance=s.stance,
        gates=[
            audit_pb2.AuditGate(
                gate=g.gate, decision=g.decision, reason=g.reason, latency_ms=g.latency_ms
            )
            for g in s.gates
        ],
        provider=s.provider,
        model=s.model,
        input_tokens=s.usage.input_tokens,
        output_tokens=s.usage.output_tokens,
        duration_ms=s.duration_ms,
        released_chars=len(s.released_text),
    )


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, log: RecentRequests) -> None:
        self._log = log

    async def ListAuditEvents(
        self, request: audit_pb2.ListAuditEventsRequest, context: Ctx
    ) -> audit_pb2.ListAuditEventsResponse:
        items = [
            _event(i + 1, s)
            for i, s in enumerate(self._log.items())
            if (not request.outcome or s.outcome == request.outcome)
            and (not request.user or s.user_id == request.user)
        ]
        size = request.page_size or 50
        return audit_pb2.ListAuditEventsResponse(events=items[-size:])

    async def GetAuditEvent(
        self, request: audit_pb2.GetAuditEventRequest, context: Ctx
    ) -> audit_pb2.GetAuditEventResponse:
        for i, s in enumerate(self._log.items()):
            if s.request_id == request.id:
                return audit_pb2.GetAuditEventResponse(event=_event(i + 1, s))
        raise NotFoundError(f"audit event {request.id!r} not found")

    async def VerifyAuditChain(
        self, request: audit_pb2.VerifyAuditChainRequest, context: Ctx
    ) -> audit_pb2.VerifyAuditChainResponse:
        return audit_pb2.VerifyAuditChainResponse(
            ok=False, checked=0, problem="the in-memory request log keeps no hash chain"
        )

    async def WatchAuditEvents(
        self, request: audit_pb2.WatchAuditEventsRequest, context: Ctx
    ) -> AsyncIterator[audit_pb2.WatchAuditEventsResponse]:
        seen = len(self._log.items())
        while True:
            items = self._log.items()
            for i in range(seen, len(items)):
                yield audit_pb2.WatchAuditEventsResponse(event=_event(i + 1, items[i]))
            seen = len(items)
            await asyncio.sleep(0.2)
