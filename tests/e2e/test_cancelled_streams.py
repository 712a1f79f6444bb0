"""Streams cancelled as they start give their concurrency slot back, with Redis.

A cancel that came just as a Redis reply did was lost (on Python 3.11,
``asyncio.wait_for``, which redis-py sends every command through, returns the
result instead of raising). The stream's pipeline then ran on, filled its
queue and waited for a relay that was waiting for it: the stream never ended,
its lease was refreshed forever, its user stayed locked out at concurrency 1
and its audit record was never written. It hit about one stream in four here.
"""

from __future__ import annotations

import uuid

import grpc

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.common import await_until
from tests.fixtures.server import bearer, mint, running_app

STREAMS = 30


async def test_streams_cancelled_as_they_start_end_and_give_their_slot_back(
    redis_url: str,
) -> None:
    env = {"REDIS_URL": redis_url, "CONCURRENCY_LIMIT_FREE": "1", "MOCK_TOKEN_DELAY_MS": "50"}
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        metrics = running.app.metrics
        users = [f"cancel-{uuid.uuid4().hex[:8]}-{i}" for i in range(STREAMS)]
        for user in users:
            request = chat_pb2.StreamChatRequest(message="help me plan my week please")
            call = stub.StreamChat(request, metadata=bearer(mint(user, "free")))
            async for _ in call:  # the started event: admitted, the gates under way
                call.cancel()
                break

        async def all_ended() -> bool:
            return metrics.active_streams._value.get() == 0

        await await_until(all_ended, timeout_s=15, what="every cancelled stream ended")
        for user in users:  # each slot is free again: a new request is admitted
            again = chat_pb2.ChatRequest(message="hi")
            try:
                await stub.Chat(again, metadata=bearer(mint(user, "free")))
            except grpc.aio.AioRpcError as err:
                raise AssertionError(f"{user}: {err.code()} {err.details()}") from err
