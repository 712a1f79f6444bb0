"""CPU per upstream call of the provider HTTP client, against bench.upstream on loopback.

    .venv/bin/python -m bench.provider_client [calls]

Builds the ``openai_compat`` provider as the app does (``novaos.providers.factory``),
then, one call at a time over a warm keep-alive connection, measures this process's
CPU per non-streamed call and per streamed call (48 SSE chunks, collected). The
upstream answers at once, so the numbers are the client's cost: the HTTP stack, the
SSE parser and the OpenAI decoder. docs/providers.md quotes them.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from bench import procs
from novaos.config import Settings
from novaos.ports import ChatMessage, Provider, ProviderRequest
from novaos.providers.factory import build_providers

TOKENS = 48
REQUEST = ProviderRequest(messages=(ChatMessage("user", "hello there"),), max_tokens=100)


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


async def _per_call(provider: Provider, calls: int, *, stream: bool) -> tuple[float, float]:
    """(CPU µs, wall µs) per call."""

    async def one() -> None:
        if stream:
            chunks = [c async for c in provider.stream(REQUEST)]
            assert chunks[-1].usage is not None, "stream ended without usage"
        else:
            assert (await provider.complete(REQUEST)).text

    for _ in range(50):
        await one()
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    for _ in range(calls):
        await one()
    cpu, wall = _cpu_s() - cpu0, time.perf_counter() - wall0
    return cpu / calls * 1e6, wall / calls * 1e6


async def _run(port: int, calls: int) -> None:
    settings = Settings(
        openai_compat_base_url=f"http://127.0.0.1:{port}/v1",
        openai_compat_model="bench",
        require_auth=False,
    )
    provider = build_providers(settings)["openai_compat"]
    try:
        for _ in range(2):  # twice: the second round shows the noise
            for label, stream in (("non-streamed", False), (f"stream ({TOKENS} chunks)", True)):
                cpu, wall = await _per_call(provider, calls, stream=stream)
                print(f"{label:22} CPU {cpu:7.0f} µs/call   wall {wall:7.0f} µs/call")
    finally:
        await provider.aclose()


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        pace = {"latency_ms": 0, "token_ms": 0, "tokens": TOKENS}
        upstream, port = procs.upstream(Path(tmp), frozenset(), pace)
        try:
            uvloop.run(_run(port, calls))
        finally:
            upstream.stop()


if __name__ == "__main__":
    main()
