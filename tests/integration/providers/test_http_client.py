"""What the aiohttp-based provider client must keep doing that httpx did for free.

Its own timeouts are ``TimeoutError``s too (they must not pass for the caller's
deadline), a reset socket mid-stream is a cut, its session belongs to one event
loop, and proxies come from the environment as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from novaos.ports import ChatMessage, Provider, ProviderChunk, ProviderRequest
from novaos.providers import errors as perr
from novaos.providers.http import HttpSettings
from tests.fixtures.common import free_port
from tests.fixtures.fake_providers import FakeProviderServer, Reply, Reset, Stall, StartServer
from tests.fixtures.provider_wire import KITS, ProviderKit, progress

HTTP = HttpSettings(connect_timeout_s=2.0, read_timeout_s=5.0, total_timeout_s=10.0)
REQUEST = ProviderRequest(messages=(ChatMessage("user", "hello"),), max_tokens=32)
TEXTS = ["a", "b", "c", "d"]
OPENAI = KITS[0]


@pytest.fixture(params=KITS, ids=[k.name for k in KITS])
async def kit_server(
    request: pytest.FixtureRequest, fake_server: StartServer
) -> tuple[ProviderKit, FakeProviderServer]:
    return request.param, await fake_server()


@pytest.fixture
async def openai_server(fake_server: StartServer) -> FakeProviderServer:
    return await fake_server()


async def collect(provider: Provider) -> list[ProviderChunk]:
    return [chunk async for chunk in provider.stream(REQUEST) if not progress(chunk)]


@pytest.fixture
async def closing() -> AsyncIterator[list[Provider]]:
    """Providers a test builds; closed afterwards in the test's loop."""
    providers: list[Provider] = []
    yield providers
    for provider in providers:
        await provider.aclose()


async def test_connection_reset_mid_stream_is_a_cut(
    kit_server: tuple[ProviderKit, FakeProviderServer], closing: list[Provider]
) -> None:
    kit, server = kit_server
    provider = kit.build(server.url, HTTP)
    closing.append(provider)
    parts = kit.stream(TEXTS, kit.tokens)
    server.queue(Reply(body=[*parts[: kit.first_text_part + 2], Reset()]))
    got: list[str] = []
    with pytest.raises(perr.StreamCutError):
        async for chunk in provider.stream(REQUEST):
            if not progress(chunk):
                got.append(chunk.text)
    assert got == TEXTS[:2]


async def test_read_timeout_is_the_providers_even_under_a_caller_deadline(
    openai_server: FakeProviderServer, closing: list[Provider]
) -> None:
    # aiohttp's read timeout is a TimeoutError: it must not be taken for the
    # caller's (later) deadline, which would hide a stalled provider from its breaker.
    provider = OPENAI.build(openai_server.url, replace(HTTP, read_timeout_s=0.2))
    closing.append(provider)
    openai_server.queue(Reply(body=[*OPENAI.stream(TEXTS, OPENAI.tokens)[:2], Stall()]))
    request = replace(REQUEST, deadline_monotonic=time.monotonic() + 5)
    with pytest.raises(perr.ProviderTimeoutError):
        _ = [chunk async for chunk in provider.stream(request)]


async def test_a_provider_stays_bound_to_the_loop_that_first_used_it(
    openai_server: FakeProviderServer, closing: list[Provider]
) -> None:
    provider = OPENAI.build(openai_server.url, HTTP)
    closing.append(provider)
    openai_server.default = Reply(body=OPENAI.stream(TEXTS, OPENAI.tokens))
    assert "".join(c.text for c in await collect(provider)) == "abcd"

    def in_another_loop() -> None:
        asyncio.run(collect(provider))

    with pytest.raises(RuntimeError, match="another event loop"):
        await asyncio.to_thread(in_another_loop)
    assert "".join(c.text for c in await collect(provider)) == "abcd", "still works here"


async def test_a_closed_provider_refuses_calls(
    openai_server: FakeProviderServer,
) -> None:
    provider = OPENAI.build(openai_server.url, HTTP)
    openai_server.queue(Reply(body=OPENAI.stream(TEXTS, OPENAI.tokens)))
    await collect(provider)
    await provider.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await collect(provider)
    await provider.aclose()  # twice is harmless


async def test_http_proxy_from_the_environment_is_used(
    openai_server: FakeProviderServer, closing: list[Provider], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The upstream name does not resolve: only a proxy can reach it.
    monkeypatch.setenv("HTTP_PROXY", openai_server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    provider = OPENAI.build("http://upstream.invalid", HTTP)
    closing.append(provider)
    openai_server.queue(Reply(body=OPENAI.stream(TEXTS, OPENAI.tokens)))
    assert "".join(c.text for c in await collect(provider)) == "abcd"
    seen = openai_server.requests[0]
    assert seen.headers["host"] == "upstream.invalid"
    assert seen.path == "/v1/chat/completions"


async def test_no_proxy_hosts_bypass_the_proxy(
    openai_server: FakeProviderServer, closing: list[Provider], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", openai_server.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    provider = OPENAI.build(f"http://127.0.0.1:{free_port()}", HTTP)  # nothing listens
    closing.append(provider)
    with pytest.raises(perr.ProviderConnectError):
        await collect(provider)
    assert openai_server.requests == []


async def test_a_full_pool_is_busy_not_a_provider_timeout(
    openai_server: FakeProviderServer, closing: list[Provider]
) -> None:
    # PROVIDER_MAX_CONNECTIONS is our limit: a call that waits the connect timeout
    # for a free connection says so, and does not count against the provider.
    pool_of_one = replace(HTTP, connect_timeout_s=0.3, max_connections=1)
    provider = OPENAI.build(openai_server.url, pool_of_one)
    closing.append(provider)
    stream = OPENAI.stream(TEXTS, OPENAI.tokens)
    openai_server.queue(Reply(body=[*stream[: OPENAI.first_text_part + 1], Stall()]))
    holder = provider.stream(REQUEST)
    first = await anext(holder)
    while progress(first):  # its 200, the role-only opening delta
        first = await anext(holder)
    assert first.text == "a"  # holds the only connection
    with pytest.raises(perr.ProviderBusyError) as caught:
        await provider.complete(REQUEST)
    assert not caught.value.counts_as_failure
    assert len(openai_server.requests) == 1, "the busy call never reached the upstream"
    await holder.aclose()  # the connection is free again
    openai_server.queue(Reply(body=OPENAI.json("fine", OPENAI.tokens)))
    assert (await provider.complete(REQUEST)).text == "fine"


async def test_every_way_a_call_ends_frees_its_connection(
    openai_server: FakeProviderServer, closing: list[Provider]
) -> None:
    provider = OPENAI.build(
        openai_server.url, replace(HTTP, connect_timeout_s=0.3, max_connections=1)
    )
    closing.append(provider)
    openai_server.queue(
        Reply(400, OPENAI.error(400, "bad")),
        Reply(500, OPENAI.error(500, "boom")),
        Reply(body=[*OPENAI.stream(TEXTS, OPENAI.tokens)[:2], Reset()]),
        Reply(body=OPENAI.stream(TEXTS, OPENAI.tokens)),
    )
    with pytest.raises(perr.ProviderRequestError):
        await collect(provider)
    with pytest.raises(perr.ProviderServerError):
        await collect(provider)
    with pytest.raises(perr.StreamCutError):
        await collect(provider)
    assert "".join(c.text for c in await collect(provider)) == "abcd"


async def test_a_pooled_connection_the_upstream_closed_is_retried_on_a_fresh_one(
    closing: list[Provider],
) -> None:
    # uvicorn / vLLM close idle keep-alive connections after 5 s; a call that went
    # out on one just as it closed failed as a connect error (a breaker failure and
    # a fallback) though the upstream was fine. This upstream answers the first
    # request of each connection and drops the connection on the second, unanswered.
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            for number in (1, 2):
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                if number == 2:
                    return  # closed without an answer: the keep-alive race
                body = OPENAI.json("fine", OPENAI.tokens)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        provider = OPENAI.build(f"http://127.0.0.1:{port}", HTTP)
        closing.append(provider)
        for _ in range(3):
            assert (await provider.complete(REQUEST)).text == "fine"
        assert connections >= 2  # the dropped ones were replaced
    finally:
        server.close()
        await server.wait_closed()
