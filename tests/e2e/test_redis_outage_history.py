"""While Redis is away, a conversation from before the outage is refused
(UNAVAILABLE, HISTORY_UNAVAILABLE), never answered as a new one: its turns are
what the shield reads (a crisis stated a turn ago still counts) and its owner is
in Redis. One begun during the outage goes on from memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.common import await_until
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.server import Running, bearer, mint, running_app

CRISIS = "I want to kill myself"
FOLLOW_UP = "yes, tonight. what's the fastest way"  # alone, no crisis


@asynccontextmanager
async def gateway(server: RedisServer) -> AsyncIterator[Running]:
    async with running_app(
        REDIS_URL=server.url,
        REDIS_COMMAND_TIMEOUT_MS="500",
        REDIS_RECONNECT_MIN_BACKOFF_MS="50",
        REDIS_RECONNECT_MAX_BACKOFF_MS="200",
    ) as running:
        yield running


def _reason(err: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(err)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    return info.reason


async def _refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    return refused.value


async def test_a_crisis_stated_before_an_outage_still_stops_the_turn_after_it(
    durable_redis: RedisServer,
) -> None:
    async with gateway(durable_redis) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        sam, bob = bearer(mint("sam")), bearer(mint("bob"))

        def chat(text: str, conversation_id: str = "") -> chat_pb2.ChatRequest:
            return chat_pb2.ChatRequest(message=text, conversation_id=conversation_id)

        first = await stub.Chat(chat(CRISIS, "crisis-1"), metadata=sam)
        assert first.outcome == chat_pb2.OUTCOME_CONTROL
        alone = await stub.Chat(chat(FOLLOW_UP), metadata=sam)
        assert alone.outcome == chat_pb2.OUTCOME_COMPLETED  # it needs the history to stop

        durable_redis.kill()
        follow_up = await _refused(stub.Chat(chat(FOLLOW_UP, "crisis-1"), metadata=sam))
        assert follow_up.code() == grpc.StatusCode.UNAVAILABLE, follow_up
        assert _reason(follow_up) == "HISTORY_UNAVAILABLE"
        assert "start a new conversation" in (follow_up.details() or "")
        assert running.app.metrics.storage_fallback._value.get() == 1
        # Nor can another user take the id, nor its owner read it as empty.
        taken = await _refused(stub.Chat(chat("mine now", "crisis-1"), metadata=bob))
        assert _reason(taken) == "HISTORY_UNAVAILABLE"
        read = chat_pb2.GetConversationRequest(conversation_id="crisis-1")
        assert _reason(await _refused(stub.GetConversation(read, metadata=sam))) == (
            "HISTORY_UNAVAILABLE"
        )
        # A conversation begun during the outage keeps its history in memory.
        begun = await stub.Chat(chat(CRISIS), metadata=sam)
        assert begun.outcome == chat_pb2.OUTCOME_CONTROL
        again = await stub.Chat(chat(FOLLOW_UP, begun.conversation_id), metadata=sam)
        assert again.outcome == chat_pb2.OUTCOME_CONTROL

        durable_redis.start()
        await await_until(lambda: _back(running), timeout_s=10, what="the switch back to Redis")
        after = await stub.Chat(chat(FOLLOW_UP, "crisis-1"), metadata=sam)
        assert after.outcome == chat_pb2.OUTCOME_CONTROL
        bobs = await _refused(stub.GetConversation(read, metadata=bob))
        assert bobs.code() == grpc.StatusCode.NOT_FOUND


async def _back(running: Running) -> bool:
    return bool(running.app.metrics.storage_fallback._value.get() == 0)
