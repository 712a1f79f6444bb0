"""A model's reasoning is never answer text, in any adapter, streamed or whole.

Gemini 2.5 thought summaries (parts marked ``"thought": true``), Anthropic
``thinking`` / ``redacted_thinking`` blocks and OpenAI-compatible
``reasoning_content`` (vLLM, DeepSeek) arrive on the wire next to the answer;
only the answer may reach the client. Their tokens are still billed, and their
events still tell the stream loop the upstream is alive (a heartbeat).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from novaos.ports import Provider, ProviderChunk
from novaos.providers.http import HEARTBEAT
from tests.fixtures.fake_providers import FakeProviderServer, Reply, StartServer
from tests.fixtures.provider_wire import (
    KITS,
    anthropic_json,
    anthropic_stream,
    gemini_json,
    gemini_stream,
    openai_json,
)
from tests.integration.providers.test_adapters import HTTP, REQUEST, TEXTS

THOUGHTS = ("**Weighing the greeting** The user wants a hello.", "I will answer warmly.")
THINKING = "The user wants a hello; keep it short."


async def _provider(fake_server: StartServer, kit: str) -> tuple[FakeProviderServer, Provider]:
    server = await fake_server()
    return server, next(k for k in KITS if k.name == kit).build(server.url, HTTP)


async def _raw(provider: Provider) -> list[ProviderChunk]:
    """Every chunk the adapter yields after its 200, heartbeats included."""
    chunks: AsyncIterator[ProviderChunk] = provider.stream(REQUEST)
    return [chunk async for chunk in chunks if not chunk.accepted]


def _text(chunks: list[ProviderChunk]) -> str:
    return "".join(c.text for c in chunks)


async def test_gemini_thought_parts_are_not_streamed_as_text(fake_server: StartServer) -> None:
    server, provider = await _provider(fake_server, "gemini")
    server.queue(Reply(body=gemini_stream(TEXTS, (12, 5), thoughts=THOUGHTS, thought_tokens=40)))
    try:
        chunks = await _raw(provider)
    finally:
        await provider.aclose()
    assert _text(chunks) == "".join(TEXTS)
    # The event holding only a thought restarts the idle timer, like any event;
    # its text is passed on as reasoning (billed), never as answer text.
    assert (chunks[0].text, chunks[0].reasoning) == ("", THOUGHTS[0])
    usage = chunks[-1].usage
    assert usage is not None and (usage.input_tokens, usage.output_tokens) == (12, 45)


async def test_gemini_thought_parts_are_not_a_whole_answers_text(
    fake_server: StartServer,
) -> None:
    server, provider = await _provider(fake_server, "gemini")
    body = gemini_json("Hello there.", (12, 5), thought=THOUGHTS[0], thought_tokens=40)
    server.queue(Reply(body=body))
    try:
        answer = await provider.complete(REQUEST)
    finally:
        await provider.aclose()
    assert answer.text == "Hello there."
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (12, 45)


async def test_anthropic_thinking_blocks_are_not_streamed_as_text(
    fake_server: StartServer,
) -> None:
    server, provider = await _provider(fake_server, "anthropic")
    server.queue(Reply(body=anthropic_stream(TEXTS, (12, 5), thinking=THINKING)))
    try:
        chunks = await _raw(provider)
    finally:
        await provider.aclose()
    assert _text(chunks) == "".join(TEXTS)
    before = chunks[: chunks.index(next(c for c in chunks if c.text))]
    assert "".join(c.reasoning for c in before) == THINKING
    assert HEARTBEAT in before  # the signature and redacted blocks: alive, nothing billed


async def test_anthropic_thinking_blocks_are_not_a_whole_answers_text(
    fake_server: StartServer,
) -> None:
    server, provider = await _provider(fake_server, "anthropic")
    server.queue(Reply(body=anthropic_json("Hello there.", (12, 5), thinking=THINKING)))
    try:
        answer = await provider.complete(REQUEST)
    finally:
        await provider.aclose()
    assert answer.text == "Hello there."


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_openai_compatible_reasoning_is_not_a_whole_answers_text(
    fake_server: StartServer, field: str
) -> None:
    # vLLM and DeepSeek name it reasoning_content; Ollama and OpenRouter, reasoning.
    server, provider = await _provider(fake_server, "openai_compat")
    body = json.loads(openai_json("Hello there.", (12, 5)))
    body["choices"][0]["message"][field] = THINKING
    server.queue(Reply(body=json.dumps(body).encode()))
    try:
        answer = await provider.complete(REQUEST)
    finally:
        await provider.aclose()
    assert answer.text == "Hello there."
