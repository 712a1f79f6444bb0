"""EventPump: keepalives in a busy pipeline's silences, and an early stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from novaos.domain import ChatEvent, Keepalive, TextDelta
from novaos.services.pump import EventPump


async def _busy(
    produced: int, cleaned: list[str], idle: asyncio.Event
) -> AsyncGenerator[ChatEvent]:
    """Yields ``produced`` deltas at once, then works (waits) until cancelled."""
    try:
        for i in range(produced):
            yield TextDelta(str(i))
        await idle.wait()
    finally:
        cleaned.append("closed")  # the upstream call's close, in the real pipeline


async def test_a_silent_pipeline_gets_keepalives_until_it_speaks() -> None:
    done = asyncio.Event()
    cleaned: list[str] = []
    pump = EventPump(_busy(0, cleaned, done), keepalive_s=0.01)
    seen: list[ChatEvent] = []
    async for event in pump.relay():
        seen.append(event)
        if len(seen) == 3:
            done.set()  # the pipeline ends without a word
    assert seen == [Keepalive()] * 3
    assert cleaned == ["closed"] and not pump.stopped


async def test_stop_cancels_the_pipeline_and_delivers_what_it_already_produced() -> None:
    cleaned: list[str] = []
    pump = EventPump(_busy(3, cleaned, asyncio.Event()), keepalive_s=60)
    relay = pump.relay()
    first = await anext(relay)  # the pipeline ran ahead of the client: the rest is queued
    pump.stop()
    rest = [event async for event in relay]
    assert [first, *rest] == [TextDelta("0"), TextDelta("1"), TextDelta("2")]
    assert pump.stopped and cleaned == ["closed"]


async def test_closing_the_relay_stops_the_pipeline_at_once() -> None:
    cleaned: list[str] = []
    pump = EventPump(_busy(1, cleaned, asyncio.Event()), keepalive_s=60)
    relay = pump.relay()
    assert await anext(relay) == TextDelta("0")
    await relay.aclose()  # the client went away
    assert cleaned == ["closed"]
