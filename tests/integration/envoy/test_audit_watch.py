"""A quiet audit watch through the sidecar (SSE): headers at once, then keepalives.

Before any record exists the browser must see the status line and headers (a
``fetch()`` tells "connected" from "hung" by them), then ``{"keepalive":{}}``
events while nothing is written, so no idle timer on the way cuts the watch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

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
