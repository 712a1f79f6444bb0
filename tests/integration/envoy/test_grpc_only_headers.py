"""Headers that only mean something to gRPC never reach the gateway from HTTP calls.

A header named ``*-bin`` is gRPC binary metadata (its value base64 on the wire).
Sent by an HTTP/JSON client (a tracing header, anything of its own), it reached
the gateway as such and grpc-core refused the whole call: HTTP 500
``Error parsing 'x-trace-bin' metadata: illegal base64 encoding``.
"""

from __future__ import annotations

from generated.novaos.v1 import health_pb2, health_pb2_grpc
from tests.fixtures.envoy import EnvoySidecar, Upstream
from tests.integration.envoy.grpc_helpers import grpc_web_frame, grpc_web_frames, tls_channel
from tests.integration.envoy.helpers import bearer, client, sse_events

# Not base64 at all, unpadded base64, and the name of a header the gateway reads.
BIN_HEADERS = {"x-trace-bin": "not base64!!", "x-span-bin": "aGVsbG8", "authorization-bin": "x"}


def test_bin_headers_on_json_calls_are_dropped_not_a_500(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    with client(envoy_sidecar) as http:
        health = http.get("/api/v1/health", headers=BIN_HEADERS)
        chat = http.post(
            "/api/v1/chat",
            json={"message": "plan my week"},
            headers={**BIN_HEADERS, **bearer(gateway_upstream.token)},
        )
    assert health.status_code == 200, health.text
    assert chat.status_code == 200, chat.text
    assert chat.json()["text"]


def test_bin_headers_on_an_sse_stream_are_dropped(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    with (
        client(envoy_sidecar) as http,
        http.stream(
            "POST",
            "/api/v1/chat/stream",
            json={"message": "plan my week"},
            headers={**BIN_HEADERS, **bearer(gateway_upstream.token)},
        ) as resp,
    ):
        assert resp.status_code == 200, resp.read()
        events = list(sse_events(resp))
    assert next(iter(events[-1])) == "completed"
    assert events[-1]["completed"]["outcome"] == "OUTCOME_COMPLETED"


def test_native_grpc_and_grpc_web_keep_real_binary_metadata(envoy_sidecar: EnvoySidecar) -> None:
    # Native gRPC: the client library base64-encodes the bytes on the wire.
    with tls_channel(envoy_sidecar) as channel:
        reply = health_pb2_grpc.HealthServiceStub(channel).Live(
            health_pb2.LiveRequest(), metadata=(("x-trace-bin", b"\x00\xff\x10"),), timeout=10
        )
    assert reply.status == "ok"
    # grpc-web sends binary metadata base64-encoded itself; it is passed on.
    headers = {"content-type": "application/grpc-web+proto", "x-grpc-web": "1"}
    with client(envoy_sidecar) as http:
        resp = http.post(
            "/novaos.v1.HealthService/Live",
            content=grpc_web_frame(b""),
            headers={**headers, "x-trace-bin": "AP8Q"},
        )
    assert resp.status_code == 200
    assert b"grpc-status:0" in grpc_web_frames(resp.content)[-1][1]
