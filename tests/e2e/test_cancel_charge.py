"""A call given up on after the upstream was called is charged its prompt.

Cancelled before the first text chunk (the upstream slow to answer, or still
reasoning), a stream was charged 0 tokens: its reservation was replaced by
nothing, so large prompts cancelled early were limited by requests/min alone.
Now the charge (tokens/min window), the audit record and llm_token_usage_total
all say the prompt's estimate, plus the reasoning that arrived.
"""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.ports import ChatMessage
from novaos.tokens import estimate_input_tokens, estimate_tokens
from tests.fixtures.charges import settled_charge
from tests.fixtures.common import await_until, holds
from tests.fixtures.fake_providers import FakeProviderServer, Reply, Stall, StartServer
from tests.fixtures.provider_wire import anthropic_stream
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.server import Running, bearer, mint, running_app

PROMPT = "Please summarise these notes. " + " ".join(
    f"item{i} concerns budget planning" for i in range(200)
)
THOUGHT = "Weighing the budget items one by one. "
WORDS = ("Overall", " budget")


def _env(upstream: FakeProviderServer, redis_url: str) -> dict[str, str]:
    return {
        "PREFERRED_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": upstream.url + "/v1",
        "REDIS_URL": redis_url,
    }


def _prompt_tokens(upstream: FakeProviderServer) -> int:
    sent = upstream.requests[-1].json()["messages"]
    return estimate_input_tokens(ChatMessage(m["role"], m["content"]) for m in sent)


async def _settled(
    running: Running, redis: RedisServer, user: str, provider: str = "openai"
) -> tuple[int, int, int]:
    """(tokens/min charge, audited tokens, metric tokens) once the lease is released."""
    charged, record = await settled_charge(running, redis, user)
    assert record.outcome == "cancelled"
    counted = sum(
        sample.value
        for family in running.app.metrics.registry.collect()
        if family.name == "llm_token_usage"
        for sample in family.samples
        if sample.name == "llm_token_usage_total" and sample.labels["provider"] == provider
    )
    return charged, record.input_tokens + record.output_tokens, int(counted)


def _content_chunk(delta: dict[str, str]) -> bytes:
    chunk = {
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": delta}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


@pytest.mark.parametrize("arrived", ["nothing", "reasoning"])
async def test_a_stream_cancelled_before_any_text_is_released_is_charged_its_prompt(
    fake_server: StartServer, redis_url: str, redis_server: RedisServer, arrived: str
) -> None:
    upstream = await fake_server()
    # Reasoning, then words the output check holds back (no sentence end yet):
    # the gap between them (inter-token metric) shows the reasoning was read.
    parts = [_content_chunk({"reasoning_content": THOUGHT})] * 3
    parts += [_content_chunk({"content": word}) for word in WORDS]
    body = [Stall()] if arrived == "nothing" else [*parts, Stall()]
    upstream.default = Reply(body=body, content_type="text/event-stream")
    user = f"early-cancel-{arrived}"
    async with running_app(**_env(upstream, redis_url)) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        call = stub.StreamChat(
            chat_pb2.StreamChatRequest(message=PROMPT), metadata=bearer(mint(user, "free"))
        )
        assert (await call.read()) is not grpc.aio.EOF  # started

        def words_read() -> bool:
            count = running.app.metrics.registry.get_sample_value(
                "llm_inter_token_seconds_count", {"provider": "openai"}
            )
            return (count or 0) >= 1

        if arrived == "nothing":
            await await_until(lambda: holds(len(upstream.requests) == 1), what="upstream called")
        else:
            await await_until(lambda: holds(words_read()), what="the held-back words read")
        call.cancel()
        charged, audited, counted = await _settled(running, redis_server, user)
    expected = _prompt_tokens(upstream)
    if arrived == "reasoning":
        expected += 3 * estimate_tokens(THOUGHT) + estimate_tokens("".join(WORDS))
    assert expected > 500
    assert (charged, audited, counted) == (expected,) * 3


@pytest.mark.parametrize("ending", ["cancel", "deadline"])
async def test_a_unary_call_given_up_on_while_the_upstream_answers_is_charged_its_prompt(
    fake_server: StartServer, redis_url: str, redis_server: RedisServer, ending: str
) -> None:
    upstream = await fake_server()
    upstream.default = Reply(body=[Stall()], content_type="application/json")
    user = f"unary-{ending}"
    async with running_app(**_env(upstream, redis_url)) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint(user, "free"))
        timeout = 1.0 if ending == "deadline" else None
        call = stub.Chat(chat_pb2.ChatRequest(message=PROMPT), metadata=who, timeout=timeout)
        if ending == "cancel":
            await await_until(lambda: holds(len(upstream.requests) == 1), what="upstream called")
            call.cancel()
        with pytest.raises((grpc.aio.AioRpcError, asyncio.CancelledError)):
            await call
        charged, audited, counted = await _settled(running, redis_server, user)
    assert (charged, audited, counted) == (_prompt_tokens(upstream),) * 3


REPORTED_PROMPT = 4321  # Anthropic's own count at message_start: far from the estimate
SENTENCE = "Overall the budget holds. "


@pytest.mark.parametrize("arrived", ["prelude", "sentence"])
async def test_a_stream_given_up_on_is_charged_the_prompt_count_the_provider_reported(
    fake_server: StartServer, redis_url: str, redis_server: RedisServer, arrived: str
) -> None:
    # Anthropic reported the prompt's count (message_start), then sent nothing more
    # or one sentence (released to the client), and went silent until the client's
    # deadline passed or it cancelled. The local estimate was charged instead,
    # while a cut at the same point charged the reported count.
    upstream = await fake_server()
    parts = anthropic_stream([SENTENCE], (REPORTED_PROMPT, 99))
    sent = parts[:1] if arrived == "prelude" else parts[:4]  # message_start, block, ping, text
    upstream.default = Reply(body=[*sent, Stall()])
    user = f"reported-{arrived}"
    env = {
        "PREFERRED_PROVIDER": "anthropic",
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": upstream.url + "/v1",
        "ANTHROPIC_MODEL": "claude-fake",
        "REDIS_URL": redis_url,
    }
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint(user, "free"))
        request = chat_pb2.StreamChatRequest(message=PROMPT)
        if arrived == "prelude":  # given up on by its deadline
            call = stub.StreamChat(request, metadata=who, timeout=1.0)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                async for _ in call:
                    pass
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        else:  # cancelled once the sentence reached the client
            call = stub.StreamChat(request, metadata=who)
            async for event in call:
                if event.WhichOneof("event") == "delta":
                    break
            call.cancel()
        charged, audited, counted = await _settled(running, redis_server, user, "anthropic")
    expected = REPORTED_PROMPT + (estimate_tokens(SENTENCE) if arrived == "sentence" else 0)
    assert _prompt_tokens_of(upstream) != REPORTED_PROMPT
    assert (charged, audited, counted) == (expected,) * 3


def _prompt_tokens_of(upstream: FakeProviderServer) -> int:
    body = upstream.requests[-1].json()
    sent = [ChatMessage("system", body.get("system", ""))] + [
        ChatMessage(m["role"], m["content"]) for m in body["messages"]
    ]
    return estimate_input_tokens(sent)
