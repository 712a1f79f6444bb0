"""The longest LEASE_TTL_MS and CONVERSATION_TTL_S the settings take are expiries Redis
takes too. Past what Redis accepts (LEASE_TTL_MS=1e19) start-up went on and every chat
then failed INTERNAL, while the memory store (and /ready) took the value."""

from __future__ import annotations

import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.config import Settings
from tests.fixtures.server import bearer, mint, running_app


def _longest(name: str) -> str:
    (bound,) = (m.le for m in Settings.model_fields[name].metadata if hasattr(m, "le"))
    return str(bound)


@pytest.mark.parametrize("setting", ["lease_ttl_ms", "conversation_ttl_s"])
async def test_the_longest_ttl_serves_chats_with_redis(redis_url: str, setting: str) -> None:
    env = {"REDIS_URL": redis_url, setting.upper(): _longest(setting)}
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        auth = bearer(mint("ttl-edge"))
        reply = await stub.Chat(chat_pb2.ChatRequest(message="hello there"), metadata=auth)
        assert reply.conversation_id
        request = chat_pb2.StreamChatRequest(
            message="and again", conversation_id=reply.conversation_id
        )
        events = [e async for e in stub.StreamChat(request, metadata=auth)]
        assert events[-1].HasField("completed")
        listed = await stub.ListConversations(chat_pb2.ListConversationsRequest(), metadata=auth)
        assert [c.turn_count for c in listed.conversations] == [4]
