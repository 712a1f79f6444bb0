"""Headers that only mean something to gRPC never reach the gateway from HTTP calls.

``grpc-timeout`` is for gRPC and grpc-web callers; a JSON/SSE call is bounded by
its route's limit, a stream told so in-band (tests/integration/envoy/test_routes.py).

A header named ``*-bin`` is gRPC binary metadata (its value base64 on the wire).
Sent by an HTTP/JSON client (a tracing header, anything of its own), it reached
the gateway as such and grpc-core refused the whole call: HTTP 500
``Error parsing 'x-trace-bin' metadata: illegal base64 encoding``.
"""

from __future__ import annotations

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc, health_pb2, health_pb2_grpc
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


# The mock answers in ~1.2 s (60 tokens, 20 ms each); these deadlines are shorter.
def test_grpc_timeout_from_a_json_or_sse_caller_is_dropped(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The route's limit bounds a JSON/SSE call; the client's grpc-timeout cut the
    # stream with no terminal event (and a unary call was a 504).
    headers = {"grpc-timeout": "200m", **bearer(gateway_upstream.token)}
    with client(envoy_sidecar) as http:
        with http.stream(
            "POST", "/api/v1/chat/stream", json={"message": "plan my week"}, headers=headers
        ) as resp:
            assert resp.status_code == 200
            events = list(sse_events(resp))
        unary = http.post(
            "/api/v1/chat",
            json={"message": "plan my week"},
            headers={**headers, "grpc-timeout": "1m"},
        )
    assert events[-1]["completed"]["outcome"] == "OUTCOME_COMPLETED", events[-1]
    assert unary.status_code == 200, unary.text


def test_native_grpc_keeps_its_own_deadline(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # Its grpc-timeout still bounds the call, which ends with an error status, not
    # with the in-band ending an SSE stream gets at its limit. Mostly the client's
    # own DEADLINE_EXCEEDED; now and then Envoy's timer, armed from the same
    # header, fires first and resets the begun stream (INTERNAL, RST_STREAM).
    metadata = tuple(bearer(gateway_upstream.token).items())
    kinds: list[str] = []
    with tls_channel(envoy_sidecar) as channel:
        stream = chat_pb2_grpc.ChatServiceStub(channel).StreamChat(
            chat_pb2.StreamChatRequest(message="plan my week"), metadata=metadata, timeout=0.3
        )
        with pytest.raises(grpc.RpcError) as failure:
            for event in stream:
                kinds.append(str(event.WhichOneof("event")))
    assert "completed" not in kinds, kinds
    ended = failure.value.code()
    assert ended in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL), ended
