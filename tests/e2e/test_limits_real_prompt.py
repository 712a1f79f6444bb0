"""Tokens/min holds for the prompt really sent: system prompt and lens sources included.

Admission runs before the gates, so it can only reserve the turns, the message,
max output and room for the longest system prompt. The lens then adds fetched
sources; here those dwarf the message. Each request must grow its
reservation to the real prompt before the upstream is called, so a concurrent
burst never charges more than the limit, and a request whose real prompt does
not fit is refused (RESOURCE_EXHAUSTED) without reaching the model.
"""

from __future__ import annotations

import asyncio

import grpc
import redis.asyncio as aioredis

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.domain import Tier
from novaos.limits import LimitSubject
from novaos.limits.model import limit_keys
from novaos.pipeline.gates.model import system_prompt_bound
from novaos.tokens import estimate_tokens
from tests.fixtures.http_stub import StubHttpServer, respond
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.server import Running, bearer, mint, running_app

_PAGE = (" ".join(f"figure{i} rose by {i % 7} points" for i in range(300))).encode()
_PATHS = ("/a", "/b", "/c")


def _env(http_stub: StubHttpServer, redis_url: str, budget: int) -> dict[str, str]:
    for path in _PATHS:
        http_stub.routes[path] = respond(200, _PAGE)
    return {
        "REDIS_URL": redis_url,
        "TOKEN_LIMIT_FREE": str(budget),
        "MOCK_RESPONSE_TOKENS": "20",
        "ENABLE_WEB_FETCH": "true",
        "WEB_FETCH_ALLOW_LOCALHOST": "true",
        "WEB_FETCH_ALLOWED_PORTS": f"80,443,{http_stub.port}",
    }


def _request(port: int) -> chat_pb2.ChatRequest:
    urls = " ".join(f"http://127.0.0.1:{port}{p}" for p in _PATHS)
    return chat_pb2.ChatRequest(
        message=f"What is the latest figure today? See {urls}",
        options=chat_pb2.GenerationOptions(max_tokens=50),
    )


async def _charged(redis_url: str, user: str) -> tuple[int, int]:
    """Tokens charged in the window and leases still held, as Redis holds them."""
    _, _, amounts_key, lease_key = limit_keys(LimitSubject(user, Tier.FREE))
    client = aioredis.Redis.from_url(redis_url)
    try:
        charged = int(await client.hget(amounts_key, "_total") or 0)
        leases = int(await client.zcard(lease_key))
    finally:
        await client.aclose()
    return charged, leases


async def _burst(
    running: Running, user: str, n: int, request: chat_pb2.ChatRequest
) -> tuple[list[chat_pb2.ChatResponse], list[grpc.aio.AioRpcError]]:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    who = bearer(mint(user, "free"))

    async def one() -> chat_pb2.ChatResponse | grpc.aio.AioRpcError:
        try:
            return await stub.Chat(request, metadata=who, timeout=60)
        except grpc.aio.AioRpcError as err:
            return err

    results = await asyncio.gather(*(one() for _ in range(n)))
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert all(r.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for r in refused), refused
    return [r for r in results if isinstance(r, chat_pb2.ChatResponse)], refused


async def test_a_burst_with_big_sources_never_charges_over_the_limit(
    http_stub: StubHttpServer, redis_url: str
) -> None:
    budget = 3000
    request = _request(http_stub.port)
    # The admission estimate (message + max output) is small against the budget...
    assert estimate_tokens(request.message) + 50 < budget / 20
    async with running_app(**_env(http_stub, redis_url, budget)) as running:
        admitted, refused = await _burst(running, "lens-burst", 20, request)
    used = sum(r.usage.input_tokens + r.usage.output_tokens for r in admitted)
    charged, leases = await _charged(redis_url, "lens-burst")
    # ...but the real prompt (sources) is not: few fit, and they are all that is charged.
    assert admitted and refused
    assert min(r.usage.input_tokens for r in admitted) > 4 * estimate_tokens(request.message)
    assert used <= budget, f"charged {used} tokens against a budget of {budget}"
    assert charged == used  # reconciled to real usage; refused requests charge nothing
    assert leases == 0  # refused during the top-up or not, every lease was released


async def test_a_prompt_over_the_limit_is_refused_before_the_model(
    http_stub: StubHttpServer, redis_url: str
) -> None:
    # The message, max output and the system prompt's room fit; with the fetched
    # sources the prompt does not.
    budget = 700
    assert estimate_tokens(_request(0).message) + 50 + system_prompt_bound() < budget
    async with running_app(**_env(http_stub, redis_url, budget)) as running:
        assert running.app.provider is not None
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        request = _request(http_stub.port)
        call = stub.StreamChat(
            chat_pb2.StreamChatRequest(message=request.message, options=request.options),
            metadata=bearer(mint("lens-one", "free")),
        )
        kinds: list[str] = []
        try:
            async for event in call:
                kinds.append(event.WhichOneof("event"))
        except grpc.aio.AioRpcError as err:
            code, trailers = err.code(), dict(err.trailing_metadata() or ())
        else:
            raise AssertionError(f"not refused: {kinds}")
        calls = running.app.provider.calls
    # Above the whole limit: no wait admits it, so no retry-after (it was 429 + 60 s).
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "started" in kinds and "delta" not in kinds  # admitted, then refused mid-way
    assert calls == 0  # the upstream was never asked
    assert "retry-after" not in trailers
    assert trailers["x-ratelimit-limit"] and trailers["x-ratelimit-remaining"]
    charged, leases = await _charged(redis_url, "lens-one")
    assert (charged, leases) == (0, 0)  # nothing charged, the concurrency slot is free


async def test_a_plain_request_makes_no_top_up_round_trip(
    redis_url: str, redis_server: RedisServer
) -> None:
    """Admission reserved room for the system prompt: with no sources the
    reservation already fits, so Redis sees admission and release only."""
    async with running_app(REDIS_URL=redis_url) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint("plain", "free"))
        await stub.Chat(chat_pb2.ChatRequest(message="warm up"), metadata=who, timeout=30)
        # A question: lens stance, so no spark (whose day counter is a script too).
        # First in a new conversation (the server makes up its id), then in it.
        stats, conversation = [], ""
        for _ in range(2):
            redis_server.cli("config", "resetstat")
            request = chat_pb2.ChatRequest(
                message="Why is the sky blue?", conversation_id=conversation
            )
            reply = await stub.Chat(request, metadata=who, timeout=30)
            assert reply.outcome == chat_pb2.OUTCOME_COMPLETED
            conversation = reply.conversation_id
            stats.append(redis_server.cli("info", "commandstats").splitlines())
    for lines in stats:
        scripts = [line for line in lines if line.startswith("cmdstat_evalsha:")]
        assert scripts and scripts[0].startswith("cmdstat_evalsha:calls=2,")  # admit, release
    # History: a made-up id has nothing to read, so one MULTI/EXEC writes it;
    # continuing the conversation, one reads it and one writes.
    for lines, expected in zip(stats, (1, 2), strict=True):
        transactions = [line for line in lines if line.startswith("cmdstat_multi:")]
        assert transactions and transactions[0].startswith(f"cmdstat_multi:calls={expected},")
    assert "degraded" not in " ".join(g.reason for g in reply.gates)  # no sources wanted
    _, leases = await _charged(redis_url, "plain")
    assert leases == 0
