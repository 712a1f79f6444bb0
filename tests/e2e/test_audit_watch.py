"""A quiet WatchAuditEvents: headers at once, keepalives while no record comes.

Without them a client cannot tell a quiet watch from a hung one, and a proxy's
idle timer cuts it. Keepalives are not records: they fill no watcher's queue and
count in no audit metric.
"""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from generated.novaos.v1 import audit_pb2, audit_pb2_grpc, chat_pb2, chat_pb2_grpc
from novaos.audit.writer import AuditWriter
from tests.fixtures.server import Running, bearer, mint, running_app

ADMIN = bearer(mint("root", "enterprise", ("admin",)))
IDLE_MS = 500  # keepalives every 0.25 s (Settings.stream_keepalive_s)


def _written(running: Running) -> float | None:
    return running.app.metrics.registry.get_sample_value("audit_records_written_total")


async def _chat(running: Running) -> str:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    reply = await stub.Chat(chat_pb2.ChatRequest(message="Plan my week."), metadata=bearer(mint()))
    return reply.request_id


async def test_a_quiet_watch_gets_headers_at_once_then_keepalives() -> None:
    async with running_app(STREAM_IDLE_TIMEOUT_MS=str(IDLE_MS), AUDIT_WATCH_QUEUE_SIZE="1") as run:
        interval_s = run.app.settings.stream_keepalive_s
        writer = run.app.audit_log
        assert writer is not None
        stub = audit_pb2_grpc.AuditServiceStub(run.channel)
        call = stub.WatchAuditEvents(audit_pb2.WatchAuditEventsRequest(), metadata=ADMIN)
        # Accepted: the headers come before any record exists (a hung watch sends none).
        headers = dict(await asyncio.wait_for(call.initial_metadata(), timeout=5))
        assert headers.get("x-request-id"), headers
        assert writer.status().written == 0

        gaps: list[float] = []
        last = time.monotonic()
        async with asyncio.timeout(10):
            while len(gaps) < 4:  # more keepalives than the watcher's queue holds
                message = await call.read()
                assert isinstance(message, audit_pb2.WatchAuditEventsResponse)
                assert message.HasField("keepalive") and not message.HasField("event")
                gaps.append(time.monotonic() - last)
                last = time.monotonic()
        # At the keepalive interval, not at some other timer (generous: a busy
        # machine stalls the loop now and then).
        assert max(gaps) < interval_s + 2.0, (gaps, interval_s)
        # Keepalives are not records: none written, none counted, the watch not
        # cut off as lagging although it "received" more than its queue holds.
        assert writer.status().written == 0 and not _written(run)
        assert writer.status().watchers == 1

        sent = await _chat(run)
        async with asyncio.timeout(10):
            while not (message := await call.read()).HasField("event"):
                assert message.HasField("keepalive")
        assert isinstance(message, audit_pb2.WatchAuditEventsResponse)
        assert message.event.request_id == sent and not message.HasField("keepalive")
        assert _written(run) == 1
        call.cancel()


async def _chats_until_cut_off(run: Running, writer: AuditWriter) -> None:
    """Bursts of chats (the writer stores each burst as one batch, more than a
    queue of one holds) until the watcher, which reads nothing, is cut off."""
    deadline = time.monotonic() + 30
    while writer.status().watchers:
        assert time.monotonic() < deadline, "the watcher was never cut off"
        await asyncio.gather(*(_chat(run) for _ in range(10)))


async def test_a_lagging_watch_ends_with_the_error_in_band_then_the_status() -> None:
    # An SSE client through the sidecar sees only the messages (HTTP 200, the
    # status in trailers): the last message carries the error the call ends with.
    async with running_app(AUDIT_WATCH_QUEUE_SIZE="1") as run:
        writer = run.app.audit_log
        assert writer is not None
        stub = audit_pb2_grpc.AuditServiceStub(run.channel)
        call = stub.WatchAuditEvents(audit_pb2.WatchAuditEventsRequest(), metadata=ADMIN)
        headers = dict(await asyncio.wait_for(call.initial_metadata(), timeout=5))
        assert writer.status().watchers == 1
        await _chats_until_cut_off(run, writer)

        messages: list[audit_pb2.WatchAuditEventsResponse] = []
        with pytest.raises(grpc.aio.AioRpcError):  # after the messages
            async with asyncio.timeout(10):
                async for message in call:
                    messages.append(message)
        assert await call.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        *records, last = messages
        assert all(m.HasField("event") for m in records), records
        assert last.HasField("error") and not last.HasField("event"), last
        assert last.error.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
        assert last.error.message == await call.details()
        info = error_details_pb2.ErrorInfo()
        assert last.error.details[0].Unpack(info)
        assert info.reason == "AUDIT_WATCH_LAGGED"
        assert info.metadata["requestId"] == headers["x-request-id"]
        # The same status as the trailers carry.
        trailers = dict(await call.trailing_metadata())
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        assert status == last.error
