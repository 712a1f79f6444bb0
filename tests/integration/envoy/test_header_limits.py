"""Request headers up to the sidecar's limit reach the gateway; beyond it, 431
over HTTP/1.1 and a stream reset over HTTP/2.

The gRPC server behind Envoy once kept grpc-core's own limits (8 KiB soft, 16 KiB
hard), so headers Envoy accepted (a 12 KB token, a few big cookies) were refused
behind it with RESOURCE_EXHAUSTED, which the transcoder turns into a 429.
"""

from __future__ import annotations

import shutil
import subprocess

import grpc
import httpx
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc, health_pb2, health_pb2_grpc
from novaos.wire_limits import MAX_REQUEST_HEADERS_KIB
from tests.fixtures.envoy import EnvoySidecar, Upstream
from tests.integration.envoy.grpc_helpers import tls_channel
from tests.integration.envoy.helpers import bearer, client

# 50 headers of 1,100 bytes: ~55 KB, under Envoy's 60 KiB with room for the rest.
PADDING = {f"x-pad-{i}": "c" * 1100 for i in range(50)}


def _padded(token: str = "") -> dict[str, str]:
    return {**PADDING, **(bearer(token) if token else {})}


@pytest.mark.parametrize("path", ["/health", "/ready", "/api/v1/health"])
def test_large_headers_under_the_limit_reach_the_probes(
    envoy_sidecar: EnvoySidecar, path: str
) -> None:
    with client(envoy_sidecar) as http:
        statuses = [http.get(path, headers=_padded()).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


def test_large_headers_under_the_limit_reach_a_chat_call(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    with client(envoy_sidecar) as http:
        resp = http.post(
            "/api/v1/chat",
            json={"message": "plan my week"},
            headers=_padded(gateway_upstream.admin_token),
        )
    assert resp.status_code == 200, resp.text


def test_one_large_value_under_the_limit_passes_native_grpc(envoy_sidecar: EnvoySidecar) -> None:
    # HTTP/2 end to end; grpc-core also checks each value on its own.
    big = (("x-big", "d" * ((MAX_REQUEST_HEADERS_KIB - 4) * 1024)),)
    with tls_channel(envoy_sidecar) as channel:
        reply = health_pb2_grpc.HealthServiceStub(channel).Live(
            health_pb2.LiveRequest(), metadata=big, timeout=10
        )
    assert reply.status == "ok"


def test_headers_over_the_limit_are_431_not_429(envoy_sidecar: EnvoySidecar) -> None:
    big = {"x-big": "e" * ((MAX_REQUEST_HEADERS_KIB + 1) * 1024)}
    with client(envoy_sidecar) as http:
        try:
            status = http.get("/health", headers=big).status_code
        except httpx.RemoteProtocolError:  # Envoy may close before the client is done
            status = 431
    assert status == 431


def test_headers_over_the_limit_on_http2_reset_the_stream(envoy_sidecar: EnvoySidecar) -> None:
    # Envoy's documented behaviour, which the config cannot change: over HTTP/2
    # (browsers on the TLS listener, every gRPC client) the limit resets the
    # stream; only HTTP/1.1 gets a 431. curl is a test dependency
    # (scripts/system_deps.sh): missing, the test fails.
    assert shutil.which("curl"), "curl is missing: run scripts/system_deps.sh"
    cookie = "cookie: " + "a" * ((MAX_REQUEST_HEADERS_KIB + 1) * 1024)
    base = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", cookie]
    base += ["--cacert", str(envoy_sidecar.ca_file), envoy_sidecar.https_url + "/health"]
    h1, h2 = (
        subprocess.run([*base, v], check=False, capture_output=True, text=True, timeout=20)
        for v in ("--http1.1", "--http2")
    )
    assert h1.stdout == "431", h1.stderr
    assert h2.returncode == 92, (h2.stdout, h2.stderr)  # HTTP/2 stream not closed cleanly
    assert h2.stdout == "000", h2.stdout  # no status at all
    # A gRPC client sees the reset as INTERNAL, not RESOURCE_EXHAUSTED.
    big = (("x-big", "f" * ((MAX_REQUEST_HEADERS_KIB + 1) * 1024)),)
    with tls_channel(envoy_sidecar) as channel, pytest.raises(grpc.RpcError) as failure:
        health_pb2_grpc.HealthServiceStub(channel).Live(
            health_pb2.LiveRequest(), metadata=big, timeout=10
        )
    assert failure.value.code() == grpc.StatusCode.INTERNAL, failure.value
    assert "RST_STREAM" in str(failure.value.details()), failure.value.details()


# nghttp2 (and oghttp2 alike) decode one header field of up to about 64 KiB,
# depending on how the client encodes it (grpc-python: GOAWAY from a 65,537-byte
# value); past that the connection's HPACK state is lost.
ONE_HEADER_TOO_BIG = 65_600


def test_one_header_over_64_kib_on_http2_ends_the_whole_connection(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # Not the stream reset above: a COMPRESSION_ERROR, which HTTP/2 makes a
    # connection error (GOAWAY error 9), so every call sharing the connection
    # fails with it. No Envoy setting changes this (README "Request headers").
    metadata = tuple(bearer(gateway_upstream.token).items())
    big = (("x-big", "g" * ONE_HEADER_TOO_BIG),)
    request = chat_pb2.StreamChatRequest(message="plan my week")
    with tls_channel(envoy_sidecar) as channel:
        stream = chat_pb2_grpc.ChatServiceStub(channel).StreamChat(
            request, metadata=metadata, timeout=20
        )
        assert next(stream).WhichOneof("event") == "started"  # the innocent call is open
        with pytest.raises(grpc.RpcError) as oversized:
            health_pb2_grpc.HealthServiceStub(channel).Live(
                health_pb2.LiveRequest(), metadata=big, timeout=10
            )
        with pytest.raises(grpc.RpcError) as innocent:
            for _ in stream:
                pass
    for failure in (oversized.value, innocent.value):
        assert failure.code() == grpc.StatusCode.UNAVAILABLE, failure
        assert "GOAWAY" in str(failure.details()), failure.details()
