"""Request bytes that do not parse (bad UTF-8 in a string field, truncated bytes):
INVALID_ARGUMENT naming the field, for every service, with no traceback logged.

Sent raw through a generic channel call, as a broken or hostile client would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.fixtures.common import wait_until
from tests.fixtures.server import Running, Subprocess, bearer, mint

ADMIN = bearer(mint("root", roles=("admin",)))
CHAT = "/novaos.v1.ChatService/Chat"
STREAM = "/novaos.v1.ChatService/StreamChat"
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


def _string(field: int, raw: bytes) -> bytes:
    return bytes([field << 3 | 2, len(raw)]) + raw


BAD = b"\xff\xfe"
SURROGATE = "\ud800".encode("utf-8", "surrogatepass")  # a lone surrogate, as UTF-8 bytes
OPTIONS_MODEL = _string(4, _string(2, BAD))  # options (4) { model (2) }

# (method, request bytes, server-streaming, the field the error names)
CASES = [
    (CHAT, _string(1, BAD), False, "message"),
    (CHAT, _string(1, b"hi") + _string(2, SURROGATE), False, "conversation_id"),
    (STREAM, _string(1, b"hi") + OPTIONS_MODEL, True, "options.model"),
    (CHAT, _string(1, b"hi")[:-1], False, "request"),  # truncated
    ("/novaos.v1.AuditService/GetAuditEvent", _string(1, BAD), False, "id"),
    ("/novaos.v1.AuditService/WatchAuditEvents", _string(1, b"hi")[:-1], True, "request"),
    ("/novaos.v1.HealthService/ResetCircuit", _string(1, BAD), False, "provider"),
    ("/grpc.health.v1.Health/Check", _string(1, BAD), False, "service"),
    ("/grpc.health.v1.Health/Watch", _string(1, BAD), True, "service"),
]


def _raw(data: bytes) -> bytes:
    return data


async def _send(
    channel: grpc.aio.Channel,
    method: str,
    data: bytes,
    streaming: bool,
    metadata: tuple[tuple[str, str], ...] = ADMIN,
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        if streaming:
            call = channel.unary_stream(method, _raw, _raw)(data, metadata=metadata, timeout=10)
            async for _ in call:
                pass
        else:
            await channel.unary_unary(method, _raw, _raw)(data, metadata=metadata, timeout=10)
    return err.value


def _violated_field(err: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(err)
    assert status is not None, err
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            return bad.field_violations[0].field
    raise AssertionError(f"no BadRequest in {err}")


async def _every_case(port: int) -> list[tuple[str, grpc.StatusCode, str, str]]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        seen = []
        for method, data, streaming, _ in CASES:
            err = await _send(channel, method, data, streaming)
            seen.append((method, err.code(), _violated_field(err), err.details() or ""))
        # The reflection stream (public, a request stream): a bad second request.
        call = channel.stream_stream(REFLECTION, _raw, _raw)(
            iter([_string(7, b""), _string(4, BAD)]), timeout=10
        )
        answers = []
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for answer in call:
                answers.append(answer)
        assert len(answers) == 1, "the good request before it was answered"
        seen.append((REFLECTION, err.value.code(), _violated_field(err.value), ""))
        return seen


def test_undecodable_requests_are_invalid_argument_without_a_traceback(
    spawn_server: Callable[..., Subprocess],
) -> None:
    srv = spawn_server(LOG_LEVEL="debug")
    seen = asyncio.run(_every_case(srv.port))
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    expected = [(method, invalid, field) for method, _, _, field in CASES]
    assert [s[:3] for s in seen] == [*expected, (REFLECTION, invalid, "file_containing_symbol")]
    assert seen[0][3] == "message: is not valid UTF-8"
    assert seen[3][3] == "request: not a valid novaos.v1.ChatRequest (malformed protobuf)"
    # One debug line per request, and nothing at error level (grpc logged a
    # traceback for each, before authentication).
    wait_until(
        lambda: srv.count("undecodable request") == len(seen),
        timeout_s=10,
        what=f"a log line per request; output: {srv.lines}",
    )
    output = "".join(srv.lines)
    assert "Traceback" not in output and "DecodeError" not in output, output
    assert '"level": "error"' not in output, output


async def test_an_undecodable_request_without_credentials_is_unauthenticated(
    server: Running,
) -> None:
    # Authentication comes first: a stranger learns nothing about the request's shape.
    err = await _send(server.channel, CHAT, _string(1, BAD), False, metadata=())
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
