"""Memory-only: a conversation evicted past MEMORY_STORE_MAX_KEYS is refused, not
continued as new.

Continued as new, its owner's next turn reached the model, and the shield, with
none of its earlier turns (a crisis stated there unseen), and any other user
who named the id took it, its owner then told NOT_FOUND.
"""

from __future__ import annotations

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.server import bearer, mint, running_app


async def test_an_evicted_conversation_is_refused_to_its_owner_and_to_others() -> None:
    async with running_app(MEMORY_STORE_MAX_KEYS="100", MOCK_TOKEN_DELAY_MS="0") as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        owner, other = bearer(mint("owner-ev")), bearer(mint("other-ev"))
        first = chat_pb2.ChatRequest(message="Help me plan my week", conversation_id="ev-old")
        await stub.Chat(first, metadata=owner)
        for i in range(40):  # three keys each: the oldest conversations are evicted
            filler = chat_pb2.ChatRequest(message="hello there", conversation_id=f"ev-{i}")
            await stub.Chat(filler, metadata=other)

        again = chat_pb2.ChatRequest(message="and tomorrow?", conversation_id="ev-old")
        get = chat_pb2.GetConversationRequest(conversation_id="ev-old")
        for rpc, request in ((stub.Chat, again), (stub.GetConversation, get)):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await rpc(request, metadata=owner)
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
            assert "has expired" in (err.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as err:  # as for any other user's id
            await stub.Chat(again, metadata=other)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert err.value.details() == "conversation 'ev-old' not found"
