"""What the SSRF checks cost: SafeWebFetcher vs a plain httpx client, same loopback server.

    .venv/bin/python -m bench.webfetch_overhead [rounds]

Prints per-fetch times and their ratio, plus the cost of the URL policy alone.
The safe fetcher opens a fresh pinned connection per fetch (no keep-alive), so
the baseline is a plain client that also opens one connection per request.
"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx

from novaos.config import load_settings
from novaos.webfetch import UrlPolicy, build_fetcher
from novaos.webfetch.errors import FetchBlockedError

BODY = b"<html><title>t</title><body>" + b"<p>some text</p>" * 200 + b"</body></html>"


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {len(BODY)}\r\n"
        writer.write(head.encode() + b"connection: close\r\n\r\n" + BODY)
        await writer.drain()
    finally:
        writer.close()


async def main(rounds: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    env = {
        "REQUIRE_AUTH": "false",
        "ENABLE_WEB_FETCH": "true",
        "WEB_FETCH_ALLOW_LOCALHOST": "true",
        "WEB_FETCH_ALLOWED_PORTS": str(port),
    }
    fetcher = build_fetcher(load_settings(env))
    assert fetcher is not None
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as plain:
        for _ in range(20):  # warm-up
            await fetcher.fetch(url)
            await plain.get(url)
        start = time.perf_counter()
        for _ in range(rounds):
            assert (await fetcher.fetch(url)).result == "ok"
        safe_s = (time.perf_counter() - start) / rounds
        start = time.perf_counter()
        for _ in range(rounds):
            (await plain.get(url)).raise_for_status()
        plain_s = (time.perf_counter() - start) / rounds
    server.close()
    await server.wait_closed()

    policy = UrlPolicy()
    urls = ["https://example.com/a?b=c", "https://bücher.de/x", "http://0x7f.1/"] * 1000
    start = time.perf_counter()
    for u in urls:
        try:
            policy.check_url(u)
        except FetchBlockedError:  # refusals are part of the workload
            continue
    policy_us = (time.perf_counter() - start) / len(urls) * 1e6

    print(f"rounds={rounds}")
    print(f"plain httpx GET (new connection)   {plain_s * 1000:.3f} ms/fetch")
    print(f"SafeWebFetcher (checks + extract)  {safe_s * 1000:.3f} ms/fetch")
    print(f"ratio safe/plain                   {safe_s / plain_s:.2f}x")
    print(f"URL policy alone                   {policy_us:.1f} us/url")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
