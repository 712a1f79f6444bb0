"""A request body over the sidecar's limit: every kind of caller is told so.

JSON callers got 413 ``{"code":3,"message":"Payload Too Large"}``; native gRPC and
grpc-web callers got grpc-status 2 (UNKNOWN) with "Payload Too Large", which
names no limit and reads like a server fault worth retrying.
"""

from __future__ import annotations

import base64

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.config import Settings
from tests.fixtures.envoy import EnvoySidecar, Upstream
from tests.integration.envoy.grpc_helpers import grpc_web_frame, tls_channel
from tests.integration.envoy.helpers import bearer, client

LIMIT = Settings.model_fields["envoy_max_request_bytes"].default
TOO_LONG = "a" * (LIMIT + 40_000)


def _details(status: status_pb2.Status) -> tuple[error_details_pb2.ErrorInfo, str]:
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert status.details[0].Unpack(info)
    assert status.details[1].Unpack(bad)
    return info, bad.field_violations[0].field


def test_native_grpc_over_the_body_limit_is_invalid_argument_naming_it(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    metadata = tuple(bearer(gateway_upstream.token).items())
    with tls_channel(envoy_sidecar) as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        try:
            stub.Chat(chat_pb2.ChatRequest(message=TOO_LONG), metadata=metadata, timeout=10)
        except grpc.RpcError as err:
            failure = err
        else:
            raise AssertionError("a body over the limit was accepted")
    assert failure.code() == grpc.StatusCode.INVALID_ARGUMENT, failure.details()
    assert f"larger than {LIMIT} bytes" in (failure.details() or "")
    status = rpc_status.from_call(failure)
    assert status is not None
    info, field = _details(status)
    assert (info.reason, info.domain, field) == ("INVALID_ARGUMENT", "novaos.dev", "request")
    assert info.metadata["limitBytes"] == str(LIMIT)


def test_grpc_web_over_the_body_limit_gets_the_same_status(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    request = chat_pb2.ChatRequest(message=TOO_LONG).SerializeToString()
    headers = {
        "content-type": "application/grpc-web+proto",
        "x-grpc-web": "1",
        **bearer(gateway_upstream.token),
    }
    with client(envoy_sidecar) as http:
        resp = http.post(
            "/novaos.v1.ChatService/Chat", content=grpc_web_frame(request), headers=headers
        )
    assert resp.headers.get("grpc-status") == "3", (
        resp.status_code,
        dict(resp.headers),
        resp.content[:200],
    )
    packed = resp.headers["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(base64.b64decode(packed + "=" * (-len(packed) % 4)))
    assert status.code == 3 and f"larger than {LIMIT} bytes" in status.message
    assert _details(status)[1] == "request"


def test_json_over_the_body_limit_stays_413_code_3(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    with client(envoy_sidecar) as http:
        resp = http.post(
            "/api/v1/chat", json={"message": TOO_LONG}, headers=bearer(gateway_upstream.token)
        )
    assert resp.status_code == 413
    assert resp.json() == {"code": 3, "message": "Payload Too Large"}


def _padded(how: str) -> bytes:
    """A JSON chat body over the limit whose ``message`` is short: the bulk in a
    field the request does not have, or in whitespace, which the transcoder drops."""
    if how == "unknown field":
        return b'{"message":"hello","pad":"' + b"x" * (LIMIT + 40_000) + b'"}'
    return b'{"message":"hello"' + b" " * (LIMIT + 40_000) + b"}"


@pytest.mark.parametrize("how", ["unknown field", "whitespace"])
@pytest.mark.parametrize("path", ["/api/v1/chat", "/api/v1/chat/stream"])
def test_the_limit_counts_the_bytes_sent_not_the_message_they_make(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, path: str, how: str
) -> None:
    # Counted after the transcoder, these passed at any size (60 MB held in
    # Envoy's memory while it read past them).
    headers = {"content-type": "application/json", **bearer(gateway_upstream.token)}
    with client(envoy_sidecar) as http:
        resp = http.post(path, content=_padded(how), headers=headers)
        assert resp.status_code == 413, resp.text[:200]
        assert resp.json() == {"code": 3, "message": "Payload Too Large"}
        # A body at the limit's edge with the same padding still goes through.
        fits = b'{"message":"hello"' + b" " * (LIMIT // 2) + b"}"
        assert http.post("/api/v1/chat", content=fits, headers=headers).status_code == 200
