"""AuditService servicer over the ``AuditReader`` (admin role only).

The interceptor refuses non-admin callers for the whole service; each method
checks again so a routing mistake cannot expose the log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Literal

from google.protobuf import timestamp_pb2

from generated.novaos.v1 import audit_pb2, audit_pb2_grpc, chat_pb2
from novaos.audit.reader import AuditReader
from novaos.audit.record import AuditRecord, format_bound, parse_time
from novaos.audit.sink import AuditQuery
from novaos.domain import Keepalive, audit_filter_refusal
from novaos.errors import InvalidArgumentError, PermissionDeniedError
from novaos.transport import context as callctx
from novaos.transport.context import Ctx
from novaos.transport.convert import int64
from novaos.transport.errors import status_of


def event_pb(record: AuditRecord) -> audit_pb2.AuditEvent:
    when = timestamp_pb2.Timestamp()
    when.FromDatetime(parse_time(record.time))
    return audit_pb2.AuditEvent(
        id=record.id, seq=record.seq, time=when, request_id=record.request_id,
        user=record.user, tier=record.tier, client=record.client, outcome=record.outcome,
        stance=record.stance,
        gates=[
            audit_pb2.AuditGate(
                gate=g.gate, decision=g.decision, reason=g.reason, latency_ms=g.latency_ms
            )
            for g in record.gates
        ],
        provider=record.provider, model=record.model, input_tokens=int64(record.input_tokens),
        output_tokens=int64(record.output_tokens), duration_ms=record.duration_ms,
        prompt_sha256=record.prompt_sha256, released_sha256=record.released_sha256,
        released_chars=record.released_chars, prev_hash=record.prev_hash, hash=record.hash,
        policy_version=record.policy_version, canonical_json=record.canonical().decode(),
        key_id=record.key_id,
    )  # fmt: skip


_KEEPALIVE = audit_pb2.WatchAuditEventsResponse(keepalive=chat_pb2.Keepalive())


def watch_pb(item: AuditRecord | Keepalive) -> audit_pb2.WatchAuditEventsResponse:
    if isinstance(item, Keepalive):
        return _KEEPALIVE
    return audit_pb2.WatchAuditEventsResponse(event=event_pb(item))


_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z


def _time(
    request: audit_pb2.ListAuditEventsRequest, name: Literal["start_time", "end_time"]
) -> str:
    if not request.HasField(name):
        return ""
    stamp: timestamp_pb2.Timestamp = getattr(request, name)
    # 1970 to 9999 (no audit record is older; every sink can compare those), nanos < 1e9
    if not (0 <= stamp.seconds <= _MAX_SECONDS and 0 <= stamp.nanos < 1_000_000_000):
        raise InvalidArgumentError(name, "must be a timestamp between 1970 and 9999")
    return format_bound(stamp.seconds, stamp.nanos)


def _filter(name: str, value: str) -> str:
    if refusal := audit_filter_refusal(name, value):
        raise InvalidArgumentError(name, refusal)
    return value


def query_of(request: audit_pb2.ListAuditEventsRequest) -> AuditQuery:
    return AuditQuery(
        user=request.user,
        start_time=_time(request, "start_time"),
        end_time=_time(request, "end_time"),
        outcome=_filter("outcome", request.outcome),
        stance=_filter("stance", request.stance),
        gate_decision=_filter("gate_decision", request.gate_decision),
        after_seq=request.after_seq,
    )


def _require_admin() -> None:
    principal = callctx.current().principal
    if principal is None or not principal.is_admin:
        raise PermissionDeniedError("the admin role is required for this method")


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, reader: AuditReader, keepalive_s: float, worker: int = 0) -> None:
        self._reader = reader
        self._keepalive_s = keepalive_s  # Settings.stream_keepalive_s, as StreamChat's
        self._worker = str(worker)

    async def ListAuditEvents(
        self, request: audit_pb2.ListAuditEventsRequest, context: Ctx
    ) -> audit_pb2.ListAuditEventsResponse:
        _require_admin()
        page = await self._reader.list(
            query_of(request), page_size=request.page_size, page_token=request.page_token
        )
        return audit_pb2.ListAuditEventsResponse(
            events=[event_pb(r) for r in page.records], next_page_token=page.next_page_token
        )

    async def GetAuditEvent(
        self, request: audit_pb2.GetAuditEventRequest, context: Ctx
    ) -> audit_pb2.GetAuditEventResponse:
        _require_admin()
        return audit_pb2.GetAuditEventResponse(event=event_pb(await self._reader.get(request.id)))

    async def VerifyAuditChain(
        self, request: audit_pb2.VerifyAuditChainRequest, context: Ctx
    ) -> audit_pb2.VerifyAuditChainResponse:
        _require_admin()
        result = await self._reader.verify(request.from_seq, request.to_seq)
        return audit_pb2.VerifyAuditChainResponse(
            ok=result.ok,
            checked=result.checked,
            first_bad_seq=result.first_bad_seq,
            problem=result.problem,
            unkeyed=result.unkeyed,
        )

    async def WatchAuditEvents(
        self, request: audit_pb2.WatchAuditEventsRequest, context: Ctx
    ) -> AsyncIterator[audit_pb2.WatchAuditEventsResponse]:
        _require_admin()
        subscription = self._reader.watch()  # refused: the status alone, no headers
        try:
            # Accepted: say so now, not with the first record (which may be hours
            # away); through the sidecar these are the HTTP response headers.
            request_id = callctx.current().request_id
            meta = (("x-request-id", request_id), ("x-novaos-worker", self._worker))
            await context.send_initial_metadata(meta)
            async with aclosing(subscription.events(self._keepalive_s)) as events:
                try:
                    async for item in events:
                        yield watch_pb(item)
                except Exception as exc:
                    # Through the sidecar an SSE watch ends with HTTP 200 whatever
                    # the status (it travels in trailers, which SSE cannot read):
                    # say it in-band too, or lag looks like a normal end.
                    yield audit_pb2.WatchAuditEventsResponse(error=status_of(exc, request_id))
                    raise
        finally:
            subscription.close()
