"""Direct gRPC: the documented message limits (README, Request bodies)."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.wire_limits import GRPC_MAX_MESSAGE_BYTES
from tests.fixtures.server import Running, bearer, mint


async def _chat_error(running: Running, message: str) -> grpc.aio.AioRpcError:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Chat(chat_pb2.ChatRequest(message=message), metadata=bearer(mint()))
    return caught.value


async def test_under_the_receive_limit_a_long_message_is_invalid_argument_naming_it(
    server: Running,
) -> None:
    failure = await _chat_error(server, "a" * (GRPC_MAX_MESSAGE_BYTES - 100))
    assert failure.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(failure)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad) for d in status.details)
    assert bad.field_violations[0].field == "message"


async def test_over_the_receive_limit_grpc_names_the_limit(server: Running) -> None:
    failure = await _chat_error(server, "a" * (GRPC_MAX_MESSAGE_BYTES + 10))
    assert failure.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"vs. {GRPC_MAX_MESSAGE_BYTES})" in (failure.details() or "")
