"""A conversation whose stored history no longer fits one request of the caller's tier.

A tier's tokens/min limit is the most one request can ever reserve. The whole
stored history used to be sent (and reserved) with every message, so one long
but admitted message froze its conversation: every later message, "thanks"
too, was refused as over the limit ("lower options.max_tokens or shorten the
message", which no retry could follow) until the conversation expired. Now the
oldest whole exchanges are left out of what the model is sent, and said so;
the stored history and what the shield reads stay whole.
"""

from __future__ import annotations

import re

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.domain import Tier
from novaos.limits import LimitSubject
from novaos.limits.model import limit_keys
from novaos.pipeline.gates.model import system_prompt_bound
from novaos.pipeline.gates.shield import default_classifier
from novaos.ports import ChatMessage
from novaos.tokens import reservation
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.server import Running, bearer, mint, running_app

Events = list[chat_pb2.StreamChatResponse]
CRISIS = "I don't want to be alive anymore"


async def _stream(
    running: Running, who: str, message: str, conversation: str, tier: str = "free"
) -> Events:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    request = chat_pb2.StreamChatRequest(message=message, conversation_id=conversation)
    return [e async for e in stub.StreamChat(request, metadata=bearer(mint(who, tier)))]


def _done(events: Events) -> chat_pb2.Completed:
    assert events[-1].WhichOneof("event") == "completed"
    return events[-1].completed


def _reason(events: Events, gate: str) -> str:
    found = [e.gate.reason for e in events if e.HasField("gate") and e.gate.gate == gate]
    assert found, f"no {gate} gate event"
    return found[0]


def _reserved(*messages: ChatMessage, max_tokens: int = 512) -> int:
    """What admission reserves for these messages sent (the gateway's own estimate)."""
    return reservation(messages, max_tokens) + system_prompt_bound()


def _a_minute_later(redis: RedisServer, who: str) -> None:
    """The caller's tokens/min window emptied, as a minute's wait would leave it."""
    requests, tokens, amounts, _ = limit_keys(LimitSubject(who, Tier.FREE))
    redis.cli("del", requests, tokens, amounts)


async def _turns(running: Running, who: str, conversation: str) -> list[str]:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    request = chat_pb2.GetConversationRequest(conversation_id=conversation)
    found = await stub.GetConversation(request, metadata=bearer(mint(who)))
    return [t.text for t in found.turns]


async def test_one_long_admitted_message_does_not_freeze_its_conversation(
    redis_server: RedisServer, redis_url: str
) -> None:
    # The tester's case: free tier's default 10,000 tokens/min, default max_tokens.
    n = 8000
    while _reserved(ChatMessage("user", "日" * (n + 1))) <= 10000:
        n += 1
    long = "日" * n  # ~9,000 characters: admitted, just
    async with running_app(REDIS_URL=redis_url, TOKEN_LIMIT_FREE="10000") as running:
        first = await _stream(running, "kai", long, "stuck-1")
        assert _done(first).outcome == chat_pb2.OUTCOME_COMPLETED
        # At once, it waits for the minute's tokens like any request (it used to be
        # refused as one that no wait could ever admit).
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _stream(running, "kai", "thanks", "stuck-1")
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        _a_minute_later(redis_server, "kai")
        events = await _stream(running, "kai", "thanks", "stuck-1")
        done = _done(events)
        assert done.outcome == chat_pb2.OUTCOME_COMPLETED
        assert "left out the oldest 1 of 1 earlier exchanges" in _reason(events, "model")
        assert done.usage.input_tokens < 1000  # the long message was not sent again
        turns = await _turns(running, "kai", "stuck-1")
        assert len(turns) == 4 and turns[0] == long and turns[2] == "thanks"  # all kept


async def test_a_history_built_on_a_bigger_tier_goes_on_with_what_fits_a_smaller_one(
    redis_server: RedisServer, redis_url: str
) -> None:
    part = "tea " * 1200  # 1,200 tokens
    env = {"REDIS_URL": redis_url, "TOKEN_LIMIT_FREE": "3000", "TOKEN_LIMIT_PRO": "100000"}
    async with running_app(**env) as running:
        for i in range(2):
            built = await _stream(running, "gina", f"{i} {part}", "big-1", tier="pro")
            assert _done(built).outcome == chat_pb2.OUTCOME_COMPLETED
        _a_minute_later(redis_server, "gina")
        events = await _stream(running, "gina", "ok thanks", "big-1", tier="free")
        done = _done(events)
        assert done.outcome == chat_pb2.OUTCOME_COMPLETED
        # Only the oldest exchange is left out: the newer one still reaches the model.
        assert "left out the oldest 1 of 2 earlier exchanges" in _reason(events, "model")
        assert 1200 < done.usage.input_tokens < 2400
        # With room for all of it again, all of it is sent.
        events = await _stream(running, "gina", "and now?", "big-1", tier="pro")
        assert "left out" not in _reason(events, "model")
        assert _done(events).usage.input_tokens > 2 * 1200


async def test_the_shield_still_reads_a_crisis_in_a_turn_the_model_is_not_sent(
    redis_url: str,
) -> None:
    block = default_classifier().crisis_block("en")
    limit = 4000
    crisis = (ChatMessage("user", CRISIS), ChatMessage("assistant", block))
    words = 1
    while _reserved(*crisis, ChatMessage("user", "tea " * (words + 1))) <= limit:
        words += 1
    padding = "tea " * words  # the second message fits with the first exchange, just
    question = "what is the tallest bridge near me?"
    async with running_app(REDIS_URL=redis_url, TOKEN_LIMIT_FREE=str(limit)) as running:
        said = [CRISIS, padding]
        for message in said:
            events = await _stream(running, "lee", message, "ctx-1")
            assert _done(events).outcome == chat_pb2.OUTCOME_CONTROL
        # Sent with both exchanges it would be over the limit: the crisis turn is
        # left out of what the model would be sent, yet the shield weighs it.
        kept = (*crisis, ChatMessage("user", padding), ChatMessage("assistant", block))
        assert _reserved(*kept, ChatMessage("user", question)) > limit
        events = await _stream(running, "lee", question, "ctx-1")
        assert _done(events).outcome == chat_pb2.OUTCOME_CONTROL
        fresh = await _stream(running, "lee", question, "ctx-2")
        assert _done(fresh).outcome == chat_pb2.OUTCOME_COMPLETED, "alone, it is benign"


def _refusal(err: grpc.aio.AioRpcError) -> str:
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    return err.details() or ""


async def test_a_message_that_cannot_fit_alone_is_refused_naming_what_is_too_big(
    redis_server: RedisServer, redis_url: str
) -> None:
    async with running_app(REDIS_URL=redis_url, TOKEN_LIMIT_FREE="3000") as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint("max", "free"))
        first = chat_pb2.ChatRequest(message="tea " * 1500, conversation_id="fit-1")
        assert (await stub.Chat(first, metadata=who)).outcome == chat_pb2.OUTCOME_COMPLETED
        # 2,200 tokens with the system prompt's room, too many with 512 more to answer in.
        message = "tea " * 2200
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Chat(
                chat_pb2.ChatRequest(message=message, conversation_id="fit-1"), metadata=who
            )
        text = _refusal(caught.value)
        assert "max_tokens 512 (the default)" in text and "the message takes" in text
        assert "earlier turns left out already" in text  # not the history's fault
        found = re.search(r"set options\.max_tokens to at most (\d+)", text)
        assert found, text
        room = int(found.group(1))

        def asking(max_tokens: int) -> chat_pb2.ChatRequest:
            options = chat_pb2.GenerationOptions(max_tokens=max_tokens)
            return chat_pb2.ChatRequest(message=message, conversation_id="fit-1", options=options)

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Chat(asking(room + 1), metadata=who)
        assert f"max_tokens {room + 1} more" in _refusal(caught.value)
        # The advice is exact: at most that many, it is admitted.
        _a_minute_later(redis_server, "max")
        reply = await stub.Chat(asking(room), metadata=who)
        assert reply.outcome == chat_pb2.OUTCOME_COMPLETED
        # A message that leaves no room for any answer: shorten it.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Chat(chat_pb2.ChatRequest(message="tea " * 2600), metadata=who)
        text = _refusal(caught.value)
        assert "leaves no room for an answer" in text and text.endswith("shorten the message")
        assert "set options.max_tokens" not in text  # a lower one does not help
