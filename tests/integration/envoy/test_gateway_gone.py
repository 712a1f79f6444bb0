"""The gateway's port refusing connections (its drain after SIGTERM, a crash) before
Envoy's health check has ejected it.

Envoy's reply was its raw "upstream connect error or disconnect/reset before
headers. reset reason: remote connection failure" for the 2-4 s the health check
takes, then "no healthy upstream": two texts for one fact, the first reading like
a network fault between client and server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import grpc
import pytest

from generated.novaos.v1 import health_pb2, health_pb2_grpc
from tests.fixtures.common import wait_until
from tests.fixtures.cutting_proxy import CuttingProxy
from tests.fixtures.envoy import EnvoySidecar, Upstream, run_sidecar
from tests.fixtures.gateway_thread import GatewayThread
from tests.integration.envoy.grpc_helpers import tls_channel
from tests.integration.envoy.helpers import client


@pytest.fixture
def proxied(
    gateway_thread: GatewayThread, tmp_path: Path
) -> Iterator[tuple[EnvoySidecar, AbstractAsyncContextManager[CuttingProxy]]]:
    """A sidecar whose upstream is a TCP proxy to the gateway: closing the proxy
    closes Envoy's connections and refuses new ones, as a stopping gateway does."""
    proxy = CuttingProxy(gateway_thread.port)
    running = proxy.running()
    gateway_thread.run(running.__aenter__())
    try:
        upstream = Upstream("127.0.0.1", proxy.port, gateway_thread.token)
        for sidecar in run_sidecar(upstream, tmp_path):
            yield sidecar, running
    finally:
        gateway_thread.run(running.__aexit__(None, None, None))


def test_a_gateway_refusing_connections_is_no_healthy_upstream_at_once(
    proxied: tuple[EnvoySidecar, AbstractAsyncContextManager[CuttingProxy]],
    gateway_thread: GatewayThread,
) -> None:
    sidecar, running = proxied
    gateway_thread.run(running.__aexit__(None, None, None))  # the port now refuses
    rid = f"gone-{uuid.uuid4().hex[:8]}"
    with client(sidecar) as http:
        resp = http.get("/ready", headers={"x-request-id": rid})
    with tls_channel(sidecar) as channel, pytest.raises(grpc.RpcError) as failure:
        health_pb2_grpc.HealthServiceStub(channel).Live(health_pb2.LiveRequest(), timeout=10)

    def flags() -> str:
        return next((e["flags"] for e in sidecar.access_log() if e["requestId"] == rid), "")

    wait_until(lambda: flags() != "", timeout_s=15, what="the access log entry")
    assert flags() == "UF", "not the window before the health check ejects the host"
    assert resp.status_code == 503, resp.text
    assert resp.json() == {"code": 14, "message": "no healthy upstream"}
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert failure.value.details() == "no healthy upstream"
