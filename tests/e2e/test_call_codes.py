"""Calls that end without an answer are counted and logged under the status their
caller saw: a deadline that ran out is DEADLINE_EXCEEDED, not CANCELLED.

Both used to be CANCELLED in ``http_requests_total`` and the ``Call failed`` log
line, so deadline expiries looked like users pressing Stop and the error-rate
alert, which counts DEADLINE_EXCEEDED, never saw them.
"""

from __future__ import annotations

import logging
import uuid

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.common import await_until
from tests.fixtures.fake_providers import (
    FakeProviderServer,
    Pause,
    Reply,
    StartServer,
    paced,
)
from tests.fixtures.provider_wire import openai_json, openai_stream
from tests.fixtures.server import bearer, mint, running_app

MESSAGE = "help me plan my week please"


async def _slow_upstream(fake_server: StartServer, method: str) -> dict[str, str]:
    """An OpenAI upstream that takes 4 s to answer: whole, or streamed a word every
    0.1 s (the deadline then ends the call between reads, as gRPC cancels it)."""
    upstream: FakeProviderServer = await fake_server()
    if method == "Chat":
        upstream.default = Reply(body=[Pause(4), openai_json("Plan it.", (9, 3))])
    else:
        body = paced(openai_stream(["word "] * 40, (9, 40)), 0.1)
        upstream.default = Reply(body=body, content_type="text/event-stream")
    return {
        "PREFERRED_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": upstream.url + "/v1",
    }


def _count(running: object, method: str, code: str) -> float:
    registry = running.app.metrics.registry  # type: ignore[attr-defined]
    labels = {"method": f"/novaos.v1.ChatService/{method}", "code": code}
    return registry.get_sample_value("http_requests_total", labels) or 0.0


@pytest.mark.parametrize("method", ["StreamChat", "Chat"])
async def test_a_deadline_that_ran_out_is_counted_as_deadline_exceeded(
    method: str, caplog: pytest.LogCaptureFixture, fake_server: StartServer
) -> None:
    caplog.set_level(logging.INFO, logger="novaos.transport")
    async with running_app(**await _slow_upstream(fake_server, method)) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint(f"deadline-{uuid.uuid4().hex[:8]}"))
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            if method == "Chat":
                await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=who, timeout=0.5)
            else:
                request = chat_pb2.StreamChatRequest(message=MESSAGE)
                async for _ in stub.StreamChat(request, metadata=who, timeout=0.5):
                    pass
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        async def counted() -> bool:
            return _count(running, method, "DEADLINE_EXCEEDED") == 1

        await await_until(counted, timeout_s=10, what="the call counted")
        assert _count(running, method, "CANCELLED") == 0
    failed = [r for r in caplog.records if r.getMessage() == "Call failed"]
    assert [getattr(r, "code", None) for r in failed] == ["DEADLINE_EXCEEDED"]


async def test_a_call_its_caller_cancelled_is_still_counted_as_cancelled(
    fake_server: StartServer,
) -> None:
    async with running_app(**await _slow_upstream(fake_server, "StreamChat")) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint(f"cancel-{uuid.uuid4().hex[:8]}"))
        call = stub.StreamChat(chat_pb2.StreamChatRequest(message="hi"), metadata=who, timeout=30)
        async for _ in call:  # started: the call is under way
            call.cancel()
            break

        async def counted() -> bool:
            return _count(running, "StreamChat", "CANCELLED") == 1

        await await_until(counted, timeout_s=10, what="the cancel counted")
        assert _count(running, "StreamChat", "DEADLINE_EXCEEDED") == 0
