"""An audit watch through the sidecar (SSE): headers at once, then keepalives;
and a watch the gateway cuts off ends with an error event.

Before any record exists the browser must see the status line and headers (a
``fetch()`` tells "connected" from "hung" by them), then ``{"keepalive":{}}``
events while nothing is written, so no idle timer on the way cuts the watch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import grpc
import httpx
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.envoy import EnvoySidecar, sidecar_for
from tests.fixtures.gateway_thread import GatewayThread, fresh_token
from tests.integration.envoy.helpers import bearer, client, sse_events

IDLE_MS = 4000  # the gateway sends keepalives every 2 s
# Each read must bring something well within this, or the watch is "hung".
READ_TIMEOUT = httpx.Timeout(20, read=5)
WATCH = {
    "grpc_service": "novaos.v1.AuditService",
    "grpc_method": "WatchAuditEvents",
    "grpc_type": "server_stream",
}


@pytest.fixture(scope="module")
def quiet_gateway() -> Iterator[GatewayThread]:
    with GatewayThread(STREAM_IDLE_TIMEOUT_MS=str(IDLE_MS)) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def quiet_sidecar(
    quiet_gateway: GatewayThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnvoySidecar]:
    workdir = tmp_path_factory.mktemp("envoy-watch")
    yield from sidecar_for(quiet_gateway, workdir, STREAM_IDLE_TIMEOUT_MS=str(IDLE_MS))


def test_a_quiet_watch_answers_at_once_and_sends_keepalives_until_a_record(
    quiet_sidecar: EnvoySidecar, quiet_gateway: GatewayThread
) -> None:
    writer = quiet_gateway.app.audit_log
    assert writer is not None
    admin = bearer(quiet_gateway.admin_token)
    with (
        client(quiet_sidecar) as http,
        http.stream("GET", "/api/v1/audit/watch", headers=admin, timeout=READ_TIMEOUT) as resp,
    ):
        # The headers came before the watch sent anything (a keepalive or a record).
        sent = quiet_gateway.app.metrics.registry.get_sample_value(
            "grpc_server_msg_sent_total", WATCH
        )
        assert not sent, sent
        assert writer.status().written == 0
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/event-stream"
        assert resp.headers["x-request-id"]
        events = sse_events(resp)
        assert next(events) == {"keepalive": {}}
        assert writer.status().written == 0

        chat = http.post(
            "/api/v1/chat", json={"message": "Plan my week."}, headers=bearer(fresh_token())
        )
        assert chat.status_code == 200, chat.text
        deadline = time.monotonic() + 10
        while "event" not in (event := next(events)):
            assert event == {"keepalive": {}}
            assert time.monotonic() < deadline, "no record within 10 s"
        assert event["event"]["request_id"] == chat.json()["request_id"]
        assert "keepalive" not in event


@pytest.fixture(scope="module")
def lagging_gateway() -> Iterator[GatewayThread]:
    with GatewayThread(AUDIT_WATCH_QUEUE_SIZE="1") as gateway:
        yield gateway


@pytest.fixture(scope="module")
def lagging_sidecar(
    lagging_gateway: GatewayThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnvoySidecar]:
    yield from sidecar_for(lagging_gateway, tmp_path_factory.mktemp("envoy-lagging"))


async def _burst(gateway: GatewayThread, size: int) -> None:
    """``size`` chats at once, straight to the gateway: the writer stores them as
    one batch, more than a watcher's queue of one holds."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        auth = (("authorization", f"Bearer {fresh_token()}"),)
        request = chat_pb2.ChatRequest(message="Plan my week.")
        await asyncio.gather(*(stub.Chat(request, metadata=auth) for _ in range(size)))


def test_a_watch_cut_off_for_lagging_ends_with_an_error_event(
    lagging_sidecar: EnvoySidecar, lagging_gateway: GatewayThread
) -> None:
    # The SSE reply is HTTP 200 whatever status the watch ends with (it comes in
    # trailers, which an SSE client cannot read): the last event must say it.
    writer = lagging_gateway.app.audit_log
    assert writer is not None
    admin = bearer(lagging_gateway.admin_token)
    with (
        client(lagging_sidecar) as http,
        http.stream("GET", "/api/v1/audit/watch", headers=admin, timeout=READ_TIMEOUT) as resp,
    ):
        assert resp.status_code == 200
        request_id = resp.headers["x-request-id"]
        deadline = time.monotonic() + 30
        while writer.status().watchers:  # the watch reads nothing meanwhile
            assert time.monotonic() < deadline, "the watcher was never cut off"
            lagging_gateway.run(_burst(lagging_gateway, 10))
        *records, last = list(sse_events(resp))
    assert records and all("event" in e for e in records), records
    assert set(last) == {"error"}, last
    error = last["error"]
    assert error["code"] == 8  # RESOURCE_EXHAUSTED
    assert "fell behind" in error["message"]
    info = error["details"][0]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert info["reason"] == "AUDIT_WATCH_LAGGED"
    assert info["metadata"]["requestId"] == request_id
