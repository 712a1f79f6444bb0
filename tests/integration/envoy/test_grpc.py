"""grpc-web and native gRPC (h2 over TLS) through the same port as the JSON API."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc, health_pb2, health_pb2_grpc
from tests.fixtures.envoy import FREE_RATE_LIMIT, EnvoySidecar, Upstream
from tests.fixtures.gateway_thread import fresh_token
from tests.integration.envoy.grpc_helpers import (
    grpc_web_frame,
    grpc_web_frames,
    live_over_tls,
    tls_channel,
)
from tests.integration.envoy.helpers import client


def test_grpc_web_call_returns_message_and_trailer_frames(envoy_sidecar: EnvoySidecar) -> None:
    headers = {"content-type": "application/grpc-web+proto", "x-grpc-web": "1"}
    with client(envoy_sidecar) as http:
        resp = http.post(
            "/novaos.v1.HealthService/Live", content=grpc_web_frame(b""), headers=headers
        )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/grpc-web+proto"
    frames = grpc_web_frames(resp.content)
    assert [flag for flag, _ in frames] == [0x00, 0x80]
    assert health_pb2.LiveResponse.FromString(frames[0][1]).status == "ok"
    assert b"grpc-status:0" in frames[1][1]


def test_grpc_web_unary_chat_gets_its_metadata_as_http_headers(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    """A browser reads response headers (CORS exposes them), not trailer frames."""
    headers = {
        "content-type": "application/grpc-web+proto",
        "x-grpc-web": "1",
        "authorization": f"Bearer {gateway_upstream.token}",
    }
    request = chat_pb2.ChatRequest(message="hello").SerializeToString()
    with client(envoy_sidecar) as http:
        resp = http.post(
            "/novaos.v1.ChatService/Chat", content=grpc_web_frame(request), headers=headers
        )
    assert resp.status_code == 200
    frames = grpc_web_frames(resp.content)
    assert [flag for flag, _ in frames] == [0x00, 0x80]
    reply = chat_pb2.ChatResponse.FromString(frames[0][1])
    assert resp.headers["x-request-id"] == reply.request_id
    assert int(resp.headers["x-ratelimit-limit"]) > int(resp.headers["x-ratelimit-remaining"])
    assert b"x-novaos-overhead-ms" in frames[1][1]


def test_grpc_web_preflight_from_an_allowed_origin(envoy_sidecar: EnvoySidecar) -> None:
    headers = {
        "origin": "https://app.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-grpc-web,x-user-agent",
    }
    with client(envoy_sidecar) as http:
        resp = http.options("/novaos.v1.ChatService/StreamChat", headers=headers)
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-grpc-web" in resp.headers["access-control-allow-headers"]


def test_native_grpc_stream_over_tls(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    metadata = (("authorization", f"Bearer {gateway_upstream.token}"),)
    with tls_channel(envoy_sidecar) as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        events = list(
            stub.StreamChat(
                chat_pb2.StreamChatRequest(message="hello"), metadata=metadata, timeout=30
            )
        )
    assert events[0].WhichOneof("event") == "started"
    assert events[-1].WhichOneof("event") == "completed"
    assert events[-1].completed.outcome == chat_pb2.OUTCOME_COMPLETED
    assert live_over_tls(envoy_sidecar) == "ok"


def _call_error(sidecar: EnvoySidecar, token: str, message: str) -> grpc.RpcError:
    metadata = (("authorization", f"Bearer {token}"),)
    with tls_channel(sidecar) as channel:
        try:
            chat_pb2_grpc.ChatServiceStub(channel).Chat(
                chat_pb2.ChatRequest(message=message), metadata=metadata, timeout=10
            )
        except grpc.RpcError as err:
            return err
    raise AssertionError("expected an error status")


def test_native_grpc_errors_keep_rich_details(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    failure = _call_error(envoy_sidecar, gateway_upstream.token, "")
    assert failure.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(failure)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad) for d in status.details)
    assert bad.field_violations[0].field == "message"


def test_native_grpc_rate_limit_keeps_metadata(envoy_sidecar: EnvoySidecar) -> None:
    token = fresh_token("free")
    metadata = (("authorization", f"Bearer {token}"),)
    with tls_channel(envoy_sidecar) as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        for _ in range(FREE_RATE_LIMIT):
            stub.Chat(chat_pb2.ChatRequest(message="hello"), metadata=metadata, timeout=10)
    failure = _call_error(envoy_sidecar, token, "hello")
    assert failure.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    trailers = {m.key: str(m.value) for m in failure.trailing_metadata()}
    assert trailers["x-ratelimit-limit"] == str(FREE_RATE_LIMIT)
    assert trailers["x-ratelimit-remaining"] == "0"
    assert int(trailers["retry-after"]) >= 1


def test_plain_http_listener_speaks_h2c_grpc(envoy_sidecar: EnvoySidecar) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{envoy_sidecar.http_port}") as channel:
        reply = health_pb2_grpc.HealthServiceStub(channel).Live(
            health_pb2.LiveRequest(), timeout=10
        )
    assert reply.status == "ok"
