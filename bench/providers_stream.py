"""Provider streaming costs: SSE parse rate and router overhead over a real loopback stream.

Run: python -m bench.providers_stream   (prints figures and ratios; no assertions)
"""

from __future__ import annotations

import asyncio
import time

from novaos.ports import ChatMessage, Provider, ProviderRequest
from novaos.providers.http import HttpSettings
from novaos.providers.openai import OpenAIProvider
from novaos.providers.router import ProviderRouter, RouterSettings
from novaos.providers.sse import SSEParser
from tests.fixtures.fake_providers import FakeProviderServer, Reply
from tests.fixtures.provider_wire import openai_stream

TOKENS = 2000
ROUNDS = 10
REQUEST = ProviderRequest(messages=(ChatMessage("user", "bench"),))


def parse_rate() -> tuple[float, float]:
    raw = b"".join(openai_stream([f"tok{i} " for i in range(TOKENS)], (10, TOKENS)))
    pieces = [raw[i : i + 4096] for i in range(0, len(raw), 4096)]
    started = time.perf_counter()
    events = 0
    for _ in range(ROUNDS):
        parser = SSEParser()
        events += sum(len(parser.feed(p)) for p in pieces)
    elapsed = time.perf_counter() - started
    return events / elapsed, len(raw) * ROUNDS / elapsed / 1e6


async def drain(source: Provider | ProviderRouter) -> int:
    return sum([1 async for _ in source.stream(REQUEST)])


async def stream_rates() -> tuple[float, float]:
    server = await FakeProviderServer().start()
    server.default = Reply(body=openai_stream([f"tok{i} " for i in range(TOKENS)], (10, TOKENS)))
    http = HttpSettings(connect_timeout_s=5, read_timeout_s=30, total_timeout_s=60)
    provider = OpenAIProvider(api_key=None, base_url=server.url, default_model="m", http=http)
    router = ProviderRouter({"openai": provider}, RouterSettings(preferred="openai"))
    sources: tuple[Provider | ProviderRouter, ...] = (provider, router)
    seconds, chunks = [0.0, 0.0], [0, 0]
    try:
        await drain(provider)  # warm the pool
        for _ in range(ROUNDS):  # interleaved, so load from elsewhere hits both alike
            for i, source in enumerate(sources):
                started = time.perf_counter()
                chunks[i] += await drain(source)
                seconds[i] += time.perf_counter() - started
    finally:
        await router.aclose()
        await server.close()
    return chunks[0] / seconds[0], chunks[1] / seconds[1]


def main() -> None:
    events_s, mb_s = parse_rate()
    print(f"SSE parser: {events_s:,.0f} events/s, {mb_s:.1f} MB/s")
    direct, routed = asyncio.run(stream_rates())
    print(f"loopback stream, adapter only: {direct:,.0f} chunks/s")
    print(f"loopback stream, via router:   {routed:,.0f} chunks/s (ratio {routed / direct:.2f})")


if __name__ == "__main__":
    main()
