"""Router over real adapters and fake servers: a stream that breaks after text was
passed on, but before the consumer released any of it, restarts on the next provider."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from dataclasses import replace

import pytest

from novaos.domain import Usage
from novaos.errors import ProviderUnavailableError, UpstreamTruncatedError
from novaos.ports import ProviderChunk, ProviderRequest
from novaos.tokens import estimate_usage
from tests.fixtures.common import await_until, holds
from tests.fixtures.fake_providers import Cut, Part, Reply, Stall
from tests.fixtures.provider_wire import anthropic_stream, openai_error_event, openai_stream
from tests.integration.providers.test_router import (
    OK_PRIMARY,
    OK_SECONDARY,
    REQUEST,
    TEXTS,
    Pair,
    collect,
    text,
)

HALF = ["Half a sen", "tence"]  # no sentence ends: a pipeline holds all of it back
BROKEN = openai_stream(HALF, (4, 3))[:3]  # role prelude and the two texts, no end
DOWN_SECONDARY = Reply(529, b'{"type":"error","error":{"type":"overloaded_error"}}')
ANTHROPIC_FIRST = replace(REQUEST, preferred_provider="anthropic")


def nothing_released() -> bool:
    return False


async def unreleased(pair: Pair, request: ProviderRequest = REQUEST) -> list[ProviderChunk]:
    return [c async for c in pair.router.stream(request, released=nothing_released)]


@pytest.mark.parametrize(
    ("tail", "cause"),
    [
        ([Cut()], "stream_cut"),
        ([Stall()], "stalled"),
        ([b"data: {oops\n\n"], "malformed"),
        ([openai_error_event("overloaded")], "error_event"),
    ],
    ids=["cut", "stall", "malformed", "error-event"],
)
async def test_a_break_before_release_restarts_on_the_next_provider(
    pair: Pair, tail: list[bytes | Cut | Stall], cause: str
) -> None:
    pair.primary.queue(Reply(body=[*BROKEN, *tail]))
    pair.secondary.queue(OK_SECONDARY)
    asked: list[bool] = []

    def released() -> bool:
        asked.append(False)
        return False

    chunks = [c async for c in pair.router.stream(REQUEST, released=released)]
    at = next(i for i, c in enumerate(chunks) if c.restart)
    restart, after = chunks[at], chunks[at + 1 :]
    assert text(chunks[:at]) == "Half a sentence"
    # The void attempt, charged as a truncation would be: the estimate of what it sent.
    charged = estimate_usage(REQUEST.messages, "Half a sentence")
    assert (restart.provider, restart.model, restart.restart) == ("openai", "gpt-4o-mini", cause)
    assert (restart.usage, restart.text) == (charged, "")
    assert after[0] == ProviderChunk(provider="anthropic", model="claude-fake")
    assert text(after) == "Backup answer."
    assert asked == [False], "asked once, when the stream broke"
    assert ("openai", "gpt-4o-mini", "output", charged.output_tokens) in pair.observer.tokens_seen
    assert ("anthropic", "claude-fake", "output", 2) in pair.observer.tokens_seen
    circuits = [(c.provider, c.consecutive_failures) for c in pair.router.circuits()]
    assert circuits == [("openai", 1), ("anthropic", 0)]


async def test_a_break_after_text_was_released_is_truncated_without_fallback(pair: Pair) -> None:
    pair.primary.queue(Reply(body=[*BROKEN, Cut()]))
    pair.secondary.queue(OK_SECONDARY)
    got: list[ProviderChunk] = []
    with pytest.raises(UpstreamTruncatedError):
        async for chunk in pair.router.stream(REQUEST, released=lambda: True):
            got.append(chunk)
    assert not any(c.restart for c in got) and got[-1].finish_reason == "truncated"
    assert pair.secondary.requests == []
    assert pair.router.circuits()[0].consecutive_failures == 1


async def open_secondary(pair: Pair) -> None:
    for _ in range(3):
        pair.secondary.queue(DOWN_SECONDARY)
        pair.primary.queue(OK_PRIMARY)
        await collect(pair.router, ANTHROPIC_FIRST)
    assert pair.router.circuits()[1].state == 1


async def test_with_no_other_provider_to_call_it_is_truncated_as_before(pair: Pair) -> None:
    await open_secondary(pair)
    pair.primary.queue(Reply(body=[*BROKEN, Cut()]))
    got: list[ProviderChunk] = []
    with pytest.raises(UpstreamTruncatedError) as caught:
        async for chunk in pair.router.stream(REQUEST, released=nothing_released):
            got.append(chunk)
    assert not any(c.restart for c in got) and got[-1].finish_reason == "truncated"
    assert caught.value.metadata["provider"] == "openai"
    assert len(pair.secondary.requests) == 3, "its open breaker keeps it out"


async def test_a_break_after_reasoning_alone_restarts_and_charges_it(pair: Pair) -> None:
    # Reasoning is never released: the router moved on before, but the consumer
    # kept the dropped reasoning (and nobody charged it).
    thinking = b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"hmm "}}]}\n\n'
    pair.primary.queue(Reply(body=[thinking, thinking, Cut()]))
    pair.secondary.queue(OK_SECONDARY)
    chunks = await collect(pair.router)  # no `released`: reasoning is never released
    restart = next(c for c in chunks if c.restart)
    assert restart.usage == estimate_usage(REQUEST.messages, "", "hmm hmm ")
    assert text(chunks) == "Backup answer."


@pytest.mark.parametrize("closed", ["at the restart", "while the next provider answers"])
async def test_a_consumer_gone_during_the_failover_frees_the_next_providers_probe(
    pair: Pair, closed: str
) -> None:
    await open_secondary(pair)
    pair.clock.now += 30  # anthropic is half-open: one probe may go
    pair.primary.queue(Reply(body=[*BROKEN, Cut()]))
    if closed != "at the restart":
        pair.secondary.queue(Reply(body=[Stall()]))

    async def consume() -> None:
        async with aclosing(pair.router.stream(REQUEST, released=nothing_released)) as chunks:
            async for chunk in chunks:
                if chunk.restart and closed == "at the restart":
                    return

    task = asyncio.create_task(consume())
    if closed == "at the restart":
        await task
        assert len(pair.secondary.requests) == 3, "the probe was admitted, never called"
    else:
        await await_until(lambda: holds(len(pair.secondary.requests) == 4), what="the probe")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    # The probe's slot is free again: the next call may probe anthropic, and closes it.
    pair.secondary.queue(OK_SECONDARY)
    assert text(await collect(pair.router, ANTHROPIC_FIRST)) == "Backup answer."
    assert pair.router.circuits()[1].state == 0


async def test_when_the_next_provider_fails_too_both_failures_are_named(pair: Pair) -> None:
    pair.primary.queue(Reply(body=[*BROKEN, Cut()]))
    pair.secondary.queue(DOWN_SECONDARY)
    got: list[ProviderChunk] = []
    with pytest.raises(ProviderUnavailableError) as caught:
        async for chunk in pair.router.stream(REQUEST, released=nothing_released):
            got.append(chunk)
    assert [c.restart for c in got if c.restart] == ["stream_cut"], "the broken stream is charged"
    assert "openai: stream_cut" in caught.value.message
    assert "anthropic: server_error" in caught.value.message
    assert [c.consecutive_failures for c in pair.router.circuits()] == [1, 1]


# Anthropic's message_start reports the prompt (21 tokens), then both texts of HALF.
REPORTED = anthropic_stream(HALF, (21, 9))[:5]
SENT = estimate_usage(REQUEST.messages, "Half a sentence").output_tokens


@pytest.mark.parametrize(
    ("first", "parts", "charged"),
    [
        ("openai", [Stall()], estimate_usage(REQUEST.messages, "")),
        ("anthropic", [*REPORTED[:3], Stall()], Usage(21, 0)),
        ("anthropic", [*REPORTED, Stall()], Usage(21, SENT)),
    ],
    ids=["openai-at-once", "anthropic-after-message-start", "anthropic-after-text"],
)
async def test_a_stall_after_the_200_is_charged_and_restarts_as_a_cut_would(
    pair: Pair, first: str, parts: list[Part], charged: Usage
) -> None:
    # The idle timeout fires in the router, outside the adapter: a stall was not
    # charged (nor named in a restart, so no failover was listed) unless text or
    # reported usage had come through, and then not from the provider's own count.
    if first == "openai":
        pair.primary.queue(Reply(body=parts))
        pair.secondary.queue(OK_SECONDARY)
        request, model, answer = REQUEST, "gpt-4o-mini", "Backup answer."
    else:
        pair.secondary.queue(Reply(body=parts))
        pair.primary.queue(OK_PRIMARY)
        request, model, answer = ANTHROPIC_FIRST, "claude-fake", "".join(TEXTS)
    chunks = await unreleased(pair, request)
    at = next(i for i, c in enumerate(chunks) if c.restart)
    assert (chunks[at].provider, chunks[at].restart, chunks[at].usage) == (
        first,
        "stalled",
        charged,
    )
    assert (first, model, "input", charged.input_tokens) in pair.observer.tokens_seen
    assert text(chunks[at + 1 :]) == answer


async def test_a_stall_after_release_is_charged_the_reported_prompt(pair: Pair) -> None:
    # As a cut at the same point is: Anthropic's message_start count, not the estimate.
    pair.secondary.queue(Reply(body=[*REPORTED, Stall()]))
    got: list[ProviderChunk] = []
    with pytest.raises(UpstreamTruncatedError) as caught:
        async for chunk in pair.router.stream(ANTHROPIC_FIRST, released=lambda: True):
            got.append(chunk)
    assert caught.value.metadata["cause"] == "stalled"
    assert caught.value.metadata["inputTokens"] == "21"
    last = got[-1]
    assert last.finish_reason == "truncated" and last.usage is not None
    assert last.usage.input_tokens == 21
    assert pair.primary.requests == [], "no fallback once text went out"
