"""A gateway that passes its health checks but never answers a call (hung).

Envoy's stream idle timer (``STREAM_IDLE_TIMEOUT_MS`` + 5 s on the stream routes)
is the backstop that notices it. That is not the caller's deadline, nor a route's
time limit (an audit watch has none): a gRPC caller gets Envoy's UNAVAILABLE
"stream timeout", which its retry policy may retry elsewhere, not the
DEADLINE_EXCEEDED the time-limit mappers give when a limit is reached.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from generated.novaos.v1 import audit_pb2, audit_pb2_grpc, chat_pb2, chat_pb2_grpc
from novaos.sidecar.local_replies import TIME_LIMIT_MESSAGE
from tests.fixtures.common import free_port
from tests.fixtures.envoy import EnvoySidecar, Upstream, run_sidecar
from tests.integration.envoy.grpc_helpers import grpc_web_frame, tls_channel
from tests.integration.envoy.helpers import bearer, client

TOKEN = "hung-gateway-token"  # nothing checks it: the upstream never answers
IDLE_S = 6  # STREAM_IDLE_TIMEOUT_MS 1000 + 5 s


@pytest.fixture(scope="module")
def hung_upstream() -> Iterator[Upstream]:
    release = threading.Event()

    def hang(request: bytes, context: grpc.ServicerContext) -> bytes:
        release.wait(60)
        return b""

    def hang_stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        release.wait(60)
        yield from ()

    class Hung(grpc.GenericRpcHandler):
        def service(self, details: Any) -> Any:
            if not details.method.startswith("/novaos.v1."):
                return None
            if details.method.endswith(("/StreamChat", "/WatchAuditEvents")):
                return grpc.unary_stream_rpc_method_handler(hang_stream)
            return grpc.unary_unary_rpc_method_handler(hang)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    checks = health.HealthServicer()
    checks.set("novaos.v1.HealthService", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    server.add_generic_rpc_handlers((Hung(),))
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        yield Upstream("127.0.0.1", port, TOKEN)
    finally:
        release.set()
        server.stop(grace=None)


@pytest.fixture(scope="module")
def hung_sidecar(
    hung_upstream: Upstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnvoySidecar]:
    workdir = tmp_path_factory.mktemp("envoy-hung")
    yield from run_sidecar(hung_upstream, workdir, STREAM_IDLE_TIMEOUT_MS="1000")


def _native_stream(sidecar: EnvoySidecar, call: Callable[[grpc.Channel], Iterator[Any]]) -> Any:
    with tls_channel(sidecar) as channel, pytest.raises(grpc.RpcError) as err:
        for _ in call(channel):
            pass
    return err.value


def _stream_chat(channel: grpc.Channel) -> Iterator[Any]:
    request = chat_pb2.StreamChatRequest(message="hello")
    return chat_pb2_grpc.ChatServiceStub(channel).StreamChat(
        request, metadata=[("authorization", f"Bearer {TOKEN}")], timeout=IDLE_S + 20
    )


def _watch(channel: grpc.Channel) -> Iterator[Any]:
    # No timeout: the watch route has no time limit, only the idle timer.
    return audit_pb2_grpc.AuditServiceStub(channel).WatchAuditEvents(
        audit_pb2.WatchAuditEventsRequest(), metadata=[("authorization", f"Bearer {TOKEN}")]
    )


def _grpc_web(sidecar: EnvoySidecar, path: str, payload: bytes, **extra: str) -> httpx.Response:
    headers = {"content-type": "application/grpc-web+proto", **bearer(TOKEN), **extra}
    with client(sidecar) as http:
        return http.post(path, content=grpc_web_frame(payload), headers=headers, timeout=30)


def test_a_hung_gateway_is_unavailable_not_a_time_limit(hung_sidecar: EnvoySidecar) -> None:
    # The 504/408 mappers for a time limit also caught the idle timer: a hung
    # gateway was DEADLINE_EXCEEDED "no answer within the sidecar's time limit",
    # on a watch that has no time limit too, and callers that retry UNAVAILABLE
    # no longer tried another gateway. The three calls run side by side.
    request = chat_pb2.StreamChatRequest(message="hello").SerializeToString()
    with futures.ThreadPoolExecutor(max_workers=3) as pool:
        chat = pool.submit(_native_stream, hung_sidecar, _stream_chat)
        watch = pool.submit(_native_stream, hung_sidecar, _watch)
        web = pool.submit(_grpc_web, hung_sidecar, "/novaos.v1.ChatService/StreamChat", request)
        for err in (chat.result(), watch.result()):
            assert err.code() == grpc.StatusCode.UNAVAILABLE, err
            assert err.details() == "stream timeout", err
        resp = web.result()
    assert resp.headers.get("grpc-status") == "14", resp.headers
    assert resp.headers.get("grpc-message") == "stream timeout", resp.headers


def test_a_time_limit_on_a_hung_gateway_is_still_deadline_exceeded(
    hung_sidecar: EnvoySidecar,
) -> None:
    # Only the idle timer is left alone: a caller's grpc-timeout reached while the
    # gateway is silent is the time-limit reply.
    resp = _grpc_web(
        hung_sidecar, "/novaos.v1.ChatService/ListConversations", b"", **{"grpc-timeout": "300m"}
    )
    assert resp.status_code == 200, resp
    assert resp.headers.get("grpc-status") == "4", resp.headers
    assert resp.headers.get("grpc-message") == TIME_LIMIT_MESSAGE, resp.headers
