"""Three server processes on one Redis: one user's burst is held to one budget."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import redis.asyncio as aioredis

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.domain import Tier
from novaos.limits import LimitSubject
from novaos.limits.model import limit_keys
from tests.fixtures.server import Subprocess, bearer, mint

Spawn = Callable[..., Subprocess]


async def _burst(
    servers: list[Subprocess], user: str, n: int, request: chat_pb2.ChatRequest
) -> tuple[list[chat_pb2.ChatResponse], int]:
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{s.port}") for s in servers]
    who = bearer(mint(user, "free"))

    async def one(i: int) -> chat_pb2.ChatResponse | None:
        stub = chat_pb2_grpc.ChatServiceStub(channels[i % len(channels)])
        try:
            return await stub.Chat(request, metadata=who, timeout=60)
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
            return None

    try:
        results = await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        for channel in channels:
            await channel.close()
    admitted = [r for r in results if r is not None]
    return admitted, n - len(admitted)


async def test_three_servers_share_requests_per_minute(spawn_server: Spawn, redis_url: str) -> None:
    servers = [spawn_server(REDIS_URL=redis_url, RATE_LIMIT_FREE="30") for _ in range(3)]
    admitted, refused = await _burst(servers, "e2e-burst", 90, chat_pb2.ChatRequest(message="hi"))
    assert len(admitted) <= 30 * 1.01
    assert len(admitted) == 30 and refused == 60


async def test_three_servers_share_tokens_per_minute(spawn_server: Spawn, redis_url: str) -> None:
    budget = 3000
    env = {"REDIS_URL": redis_url, "TOKEN_LIMIT_FREE": str(budget), "MOCK_RESPONSE_TOKENS": "20"}
    servers = [spawn_server(**env) for _ in range(3)]
    request = chat_pb2.ChatRequest(
        message="hello there", options=chat_pb2.GenerationOptions(max_tokens=200)
    )
    admitted, refused = await _burst(servers, "e2e-tokens", 90, request)
    used = sum(r.usage.input_tokens + r.usage.output_tokens for r in admitted)
    assert refused > 0  # the burst really was over budget
    # Reservations cover the real prompt (system prompt included) before the upstream call.
    assert used <= budget, f"charged {used} tokens against a budget of {budget}"
    client = aioredis.Redis.from_url(redis_url)
    try:
        amounts_key = limit_keys(LimitSubject("e2e-tokens", Tier.FREE))[2]
        charged = int(await client.hget(amounts_key, "_total") or 0)
    finally:
        await client.aclose()
    assert charged == used  # every lease reconciled to real usage, across processes
