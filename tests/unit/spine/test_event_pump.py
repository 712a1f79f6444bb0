"""EventPump: keepalives in a busy pipeline's silences, and an early stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from novaos.domain import ChatEvent, Completed, Keepalive, Outcome, Stance, TextDelta, Usage
from novaos.errors import UpstreamTruncatedError
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


async def _late(go: asyncio.Event, cleaned: list[str]) -> AsyncGenerator[ChatEvent]:
    try:
        yield TextDelta("0")
        await go.wait()
        yield TextDelta("1")
        yield TextDelta("2")
        await asyncio.Event().wait()
    finally:
        cleaned.append("closed")


async def test_stop_cancels_the_pipeline_and_delivers_what_it_already_produced() -> None:
    go, cleaned = asyncio.Event(), []
    pump = EventPump(_late(go, cleaned), keepalive_s=60)
    relay = pump.relay()
    assert await anext(relay) == TextDelta("0")
    waiting = asyncio.ensure_future(anext(relay))
    await asyncio.sleep(0)  # one turn: the relay now waits for the next event
    go.set()  # the pipeline runs first and produces two more events behind the stop
    pump.stop()
    rest = [await waiting] + [event async for event in relay]
    assert rest == [TextDelta("1"), TextDelta("2")]  # counted as released: sent, then the end
    assert pump.stopped and cleaned == ["closed"]


async def test_closing_the_relay_stops_the_pipeline_at_once() -> None:
    cleaned: list[str] = []
    pump = EventPump(_busy(1, cleaned, asyncio.Event()), keepalive_s=60)
    relay = pump.relay()
    assert await anext(relay) == TextDelta("0")
    await relay.aclose()  # the client went away
    assert cleaned == ["closed"]


def _done(outcome: Outcome) -> Completed:
    return Completed(outcome, Stance.LENS, Usage(), (), "req_1")


async def _truncated(deltas: int) -> AsyncGenerator[ChatEvent]:
    """As the orchestrator ends a cut stream: text, the terminal event, the error."""
    for i in range(deltas):
        yield TextDelta(f"s{i}. ")
    yield _done(Outcome.UPSTREAM_TRUNCATED)
    raise UpstreamTruncatedError("upstream cut the stream")


async def test_a_stop_behind_the_pipelines_own_end_keeps_its_error() -> None:
    # A slow client: the pipeline ran ahead, ended (terminal event, then the
    # truncation error), and the shutdown's stop came while those were queued.
    # The error was dropped and the call ended OK instead of UNAVAILABLE.
    pump = EventPump(_truncated(7), keepalive_s=60)
    seen: list[str] = []
    with pytest.raises(UpstreamTruncatedError):
        async for event in pump.relay():
            seen.append(type(event).__name__)
            if len(seen) == 1:
                pump.stop()
            await asyncio.sleep(0.001)  # the gRPC write
    assert seen == ["TextDelta"] * 7 + ["Completed"]


async def _swallows_a_cancel(
    working: asyncio.Event, cleaned: list[str], then: str
) -> AsyncGenerator[ChatEvent]:
    """A pipeline whose first cancel is lost: on Python 3.11 ``asyncio.wait_for``
    (redis-py sends every command through it) returns the inner result instead of
    raising when the cancel comes just as that result does."""
    try:
        yield TextDelta("0")
        try:
            working.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # swallowed: the task goes on, its cancel counted but gone
        if then == "keeps-working":
            await asyncio.Event().wait()  # the rest of a long answer
        for i in range(1, 20):  # enough to fill the queue and wait for the client
            yield TextDelta(str(i))
        yield _done(Outcome.COMPLETED)
    finally:
        cleaned.append("closed")


@pytest.mark.parametrize("then", ["fills-the-queue", "keeps-working"])
@pytest.mark.parametrize("how", ["client-gone", "stop"])
async def test_a_pipeline_that_swallows_its_cancel_still_ends(how: str, then: str) -> None:
    # It went on, filled the queue and waited for a client that was itself
    # waiting for it to end: the stream hung for good, its concurrency lease
    # refreshed forever and its audit record never written.
    working, cleaned = asyncio.Event(), []
    pump = EventPump(_swallows_a_cancel(working, cleaned, then), keepalive_s=60)
    relay = pump.relay()
    assert await anext(relay) == TextDelta("0")
    await working.wait()
    if how == "client-gone":
        ending = relay.aclose()
    else:
        pump.stop()
        ending = _drain(relay)
    await asyncio.wait_for(ending, timeout=10)
    assert cleaned == ["closed"]


async def _drain(relay: AsyncGenerator[ChatEvent]) -> None:
    async for _ in relay:
        pass


async def _slow_to_close(cleaned: list[str]) -> AsyncGenerator[ChatEvent]:
    try:
        yield TextDelta("0")
        await asyncio.Event().wait()
    finally:
        await asyncio.sleep(0.3)  # an upstream close on a busy loop
        cleaned.append("closed")


async def test_a_pipeline_slow_to_clean_up_is_not_cancelled_again_meanwhile() -> None:
    # Cancelled again every 50 ms, the close was cut short and what the
    # cleanup counts after it (usage of an answer cut short) was lost.
    cleaned: list[str] = []
    pump = EventPump(_slow_to_close(cleaned), keepalive_s=60)
    relay = pump.relay()
    assert await anext(relay) == TextDelta("0")
    await relay.aclose()
    assert cleaned == ["closed"]
