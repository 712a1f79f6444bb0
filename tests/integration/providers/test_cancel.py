"""Stopping a stream early releases the upstream connection at once.

Asserted on the fake server: its side of the TCP connection sees the close.
The keep-alive test is the control: a finished stream keeps its connection
pooled, so a drop to zero open connections is caused by the cancel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from novaos.ports import ChatMessage, ProviderChunk, ProviderRequest
from novaos.providers.http import HttpSettings
from novaos.providers.router import ProviderRouter, RouterSettings
from tests.fixtures.common import await_until
from tests.fixtures.fake_providers import FakeProviderServer, Reply, Stall, StartServer
from tests.fixtures.provider_wire import KITS, ProviderKit

HTTP = HttpSettings(connect_timeout_s=2.0, read_timeout_s=30.0, total_timeout_s=60.0)
REQUEST = ProviderRequest(messages=(ChatMessage("user", "hello"),), max_tokens=32)
TEXTS = ["a", "b", "c", "d"]


@pytest.fixture(params=KITS, ids=[k.name for k in KITS])
async def setup(
    request: pytest.FixtureRequest, fake_server: StartServer
) -> AsyncIterator[tuple[ProviderKit, FakeProviderServer, ProviderRouter]]:
    kit: ProviderKit = request.param
    server = await fake_server()
    provider = kit.build(server.url, HTTP)
    router = ProviderRouter({kit.name: provider}, RouterSettings(preferred=kit.name))
    yield kit, server, router
    await router.aclose()


def stalled_stream(kit: ProviderKit) -> Reply:
    """Two text chunks, then the upstream keeps the connection open and says nothing."""
    parts = kit.stream(TEXTS, kit.tokens)
    return Reply(body=[*parts[: kit.first_text_part + 2], Stall()])


async def no_connections(server: FakeProviderServer) -> bool:
    return server.open_connections == 0


async def test_consumer_stopping_early_closes_the_upstream_connection(
    setup: tuple[ProviderKit, FakeProviderServer, ProviderRouter],
) -> None:
    kit, server, router = setup
    server.queue(stalled_stream(kit))
    async with aclosing(router.stream(REQUEST)) as chunks:
        routed = await anext(chunks)  # the provider named before it is called
        assert (routed.provider, routed.text) == (kit.name, "")
        first = await anext(chunks)
        while not first.text:  # the usage reported so far (Anthropic's message_start)
            first = await anext(chunks)
        assert first.text == "a"
        assert server.open_connections == 1
    await await_until(lambda: no_connections(server), timeout_s=5, what="upstream closed")
    assert router.circuits()[0].consecutive_failures == 0, "a cancel is not a provider failure"


async def test_cancelled_task_closes_the_upstream_connection(
    setup: tuple[ProviderKit, FakeProviderServer, ProviderRouter],
) -> None:
    kit, server, router = setup
    server.queue(stalled_stream(kit))
    got: list[ProviderChunk] = []

    async def consume() -> None:
        async with aclosing(router.stream(REQUEST)) as chunks:
            async for chunk in chunks:
                got.append(chunk)

    task = asyncio.create_task(consume())
    await await_until(lambda: _has(got, 2), timeout_s=5, what="two chunks")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await await_until(lambda: no_connections(server), timeout_s=5, what="upstream closed")


async def test_finished_stream_keeps_its_connection_pooled(
    setup: tuple[ProviderKit, FakeProviderServer, ProviderRouter],
) -> None:
    kit, server, router = setup
    server.queue(Reply(body=kit.stream(TEXTS, kit.tokens)))
    async with aclosing(router.stream(REQUEST)) as chunks:
        assert "".join([c.text async for c in chunks]) == "abcd"
    assert server.open_connections == 1


async def _has(items: list[ProviderChunk], n: int) -> bool:
    return len(items) >= n
