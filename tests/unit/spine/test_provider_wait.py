"""A model call given up on while the provider has not answered: the wait so far is
the provider's (``provider_wait_s``), which the gateway's overhead leaves out.

It was added up only once a chunk or the whole answer came, so a cancel or a
deadline during the wait counted all of it as NovaOS's own time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from novaos.pipeline.gate import OutputConstraints
from novaos.pipeline.generation import GenerationStats, Generator
from novaos.pipeline.release import SentenceRelease
from novaos.ports import (
    ChatMessage,
    Dropped,
    ProviderChunk,
    ProviderRequest,
    ProviderResponse,
    Released,
    Routed,
)

GIVE_UP_S = 0.3


class HungRouter:
    """Routes to a provider that accepts the call and never answers."""

    def __init__(self) -> None:
        self.called = asyncio.Event()

    async def stream(
        self, request: ProviderRequest, *, released: Released | None = None
    ) -> AsyncIterator[ProviderChunk]:
        yield ProviderChunk(provider="hung", model="hung-1")  # the routing chunk
        self.called.set()
        await asyncio.Event().wait()

    async def complete(
        self,
        request: ProviderRequest,
        *,
        routed: Routed | None = None,
        dropped: Dropped | None = None,
    ) -> ProviderResponse:
        if routed is not None:
            routed("hung", "hung-1")
        self.called.set()
        await asyncio.Event().wait()
        raise AssertionError("never answers")


@pytest.mark.parametrize("whole", [False, True], ids=["stream", "unary"])
async def test_the_wait_of_a_call_given_up_on_is_the_providers(whole: bool) -> None:
    router = HungRouter()
    generator = Generator(router, SentenceRelease())
    stats = GenerationStats()
    request = ProviderRequest((ChatMessage("user", "hello there"),))

    async def consume() -> None:
        async for _ in generator.run(request, OutputConstraints(), stats, whole=whole):
            pass

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(GIVE_UP_S):  # the caller's deadline
            await consume()
    elapsed = time.monotonic() - started
    assert router.called.is_set()
    # All of it but the routing and the reservation (microseconds here).
    assert stats.provider_wait_s > elapsed - 0.05, (stats.provider_wait_s, elapsed)
