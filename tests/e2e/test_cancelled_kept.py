"""A stream that ends cancelled after some of its answer went out keeps that part.

The page promises an answer ended early (server shutting down, the sidecar's time
limit, Stop) is shown again after a reload, with why it ended; the reload reads
the stored conversation. A cancelled stream stored nothing, so the question and
the sentences the user had read were gone after a reload, and the next turn went
to the model (and the shield) without them. A stream cancelled before any text
went out stores nothing, as a unary call whose client gave up does.
"""

from __future__ import annotations

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.audit.sink import AuditQuery
from tests.fixtures.common import await_until
from tests.fixtures.server import Running, bearer, mint, running_app

MESSAGE = "How should I plan my week?"
SLOW = {"MOCK_TOKEN_DELAY_MS": "20", "MOCK_RESPONSE_TOKENS": "400"}  # ~8 s of answer


def _text(events: list[chat_pb2.StreamChatResponse]) -> str:
    return "".join(e.delta.text for e in events if e.WhichOneof("event") == "delta")


async def _stored(running: Running, user: str, conversation: str) -> list[chat_pb2.Turn]:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    request = chat_pb2.GetConversationRequest(conversation_id=conversation)
    got = await stub.GetConversation(request, metadata=bearer(mint(user)))
    return list(got.turns)


@pytest.mark.parametrize("how", ["shutdown", "time limit"])
async def test_a_stream_ended_in_band_keeps_what_it_released(how: str) -> None:
    async with running_app(**SLOW) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        request = chat_pb2.StreamChatRequest(message=MESSAGE, conversation_id="cut-short")
        if how == "shutdown":
            call = stub.StreamChat(request, metadata=bearer(mint("reader")))
        else:  # as through the sidecar: its stream time limit is the deadline
            transcoded = (*bearer(mint("reader")), ("x-envoy-original-path", "/api/v1/chat/stream"))
            call = stub.StreamChat(request, metadata=transcoded, timeout=2.0)
        events: list[chat_pb2.StreamChatResponse] = []
        async for event in call:
            events.append(event)
            if how == "shutdown" and event.WhichOneof("event") == "delta" and len(events) < 10:
                chat = running.app.chat
                assert chat is not None
                chat.stop_streams("server shutting down")
        done = events[-1].completed
        detail = "server shutting down" if how == "shutdown" else "stream time limit reached"
        assert (done.outcome, done.detail) == (chat_pb2.OUTCOME_CANCELLED, detail)
        released = _text(events)
        assert released.strip() and done.released_chars == len(released)

        # Stored before the terminal event went out, as any exchange is.
        turns = await _stored(running, "reader", "cut-short")
        assert [(t.role, t.text) for t in turns] == [("user", MESSAGE), ("assistant", released)]
        assert (turns[1].outcome, turns[1].detail) == (chat_pb2.OUTCOME_CANCELLED, detail)
        # What the next turn is sent with (and the shield reads).
        history = running.app.conversations
        assert history is not None
        sent = await history.history("reader", "cut-short")
        assert [(m.role, m.content) for m in sent] == [("user", MESSAGE), ("assistant", released)]


# The client enforces its deadline itself: its cancel usually reaches the server
# before the server's copy of the deadline has passed (README, "cancelled by the
# client"), though a server slow to see it finds the deadline passed. A race either way.
DEADLINE = ("cancelled by the client", "deadline exceeded")


@pytest.mark.parametrize(
    ("how", "details"), [("cancel", ("cancelled by the client",)), ("deadline", DEADLINE)]
)
async def test_a_stream_its_client_left_keeps_what_it_released(
    how: str, details: tuple[str, ...]
) -> None:
    async with running_app(**SLOW) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        request = chat_pb2.StreamChatRequest(message=MESSAGE, conversation_id="left")
        read: list[chat_pb2.StreamChatResponse] = []
        if how == "cancel":  # the page's Stop button
            call = stub.StreamChat(request, metadata=bearer(mint("leaver")))
            async for event in call:
                read.append(event)
                if len([e for e in read if e.WhichOneof("event") == "delta"]) == 2:
                    call.cancel()
                    break
        else:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for event in stub.StreamChat(
                    request, metadata=bearer(mint("leaver")), timeout=1.0
                ):
                    read.append(event)
            assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        seen = _text(read)
        assert seen.strip()
        reader = running.app.audit_reader
        assert reader is not None

        async def audited() -> bool:
            return len((await reader.list(AuditQuery(outcome="cancelled"))).records) == 1

        await await_until(audited, timeout_s=10, what="the cancelled audit record")
        record = (await reader.list(AuditQuery(outcome="cancelled"))).records[0]
        # The record is written once the exchange is stored.
        turns = await _stored(running, "leaver", "left")
        assert [t.role for t in turns] == ["user", "assistant"]
        assert turns[0].text == MESSAGE
        # What the server released: what the client read, and what was on its way.
        assert turns[1].text.startswith(seen) and len(turns[1].text) == record.released_chars
        assert turns[1].outcome == chat_pb2.OUTCOME_CANCELLED and turns[1].detail in details


async def test_a_stream_cancelled_before_any_text_stores_nothing() -> None:
    async with running_app(MOCK_TOKEN_DELAY_MS="5000") as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        request = chat_pb2.StreamChatRequest(message=MESSAGE, conversation_id="never-read")
        call = stub.StreamChat(request, metadata=bearer(mint("early")))
        async for _ in call:  # started: admitted, nothing released yet
            call.cancel()
            break
        reader = running.app.audit_reader
        assert reader is not None

        async def audited() -> bool:
            return len((await reader.list(AuditQuery(outcome="cancelled"))).records) == 1

        await await_until(audited, timeout_s=10, what="the cancelled audit record")
        assert (await reader.list(AuditQuery())).records[0].released_chars == 0
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _stored(running, "early", "never-read")
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
