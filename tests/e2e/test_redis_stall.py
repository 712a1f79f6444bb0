"""A Redis that stalls (SIGSTOP: connections open, nothing answered) costs a
request ``REDIS_COMMAND_TIMEOUT_MS`` once, as operations.md says, then memory serves."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.server import Running, bearer, mint, running_app

TIMEOUT_S = 1.0
# Scheduling, the mock model and the gateway itself on a busy 2-core machine; a
# second timeout would be another TIMEOUT_S.
SLACK_S = 0.6


@contextmanager
def stalled(server: RedisServer) -> Iterator[None]:
    assert server.proc is not None
    server.proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        server.proc.send_signal(signal.SIGCONT)


@asynccontextmanager
async def gateway(server: RedisServer, **env: str) -> AsyncIterator[Running]:
    async with running_app(
        REDIS_URL=server.url,
        REDIS_COMMAND_TIMEOUT_MS=str(int(TIMEOUT_S * 1000)),
        REDIS_RECONNECT_MIN_BACKOFF_MS="50",
        **env,
    ) as running:
        yield running


async def _timed_chat(running: Running, user: str) -> float:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    started = time.monotonic()
    reply = await stub.Chat(chat_pb2.ChatRequest(message="hello"), metadata=bearer(mint(user)))
    assert reply.outcome == chat_pb2.OUTCOME_COMPLETED
    return time.monotonic() - started


async def test_a_stall_costs_calls_queued_for_a_connection_one_timeout(
    private_redis: RedisServer,
) -> None:
    # Eight calls, two pooled connections: the calls that waited for a connection
    # then sent their command to the stalled Redis anyway, though the first
    # timeouts had switched to memory: 1, 2, 3 and 4 timeouts.
    async with gateway(private_redis, REDIS_POOL_SIZE="2") as running:
        await _timed_chat(running, "warm-up")  # connections pooled, scripts loaded
        with stalled(private_redis):
            took = await asyncio.gather(*(_timed_chat(running, f"queued-{i}") for i in range(8)))
        assert running.app.metrics.storage_fallback._value.get() == 1
    assert max(took) < TIMEOUT_S + SLACK_S, sorted(round(t, 2) for t in took)


async def test_a_stream_in_flight_when_redis_stalls_pays_one_timeout(
    private_redis: RedisServer,
) -> None:
    # Its history write timed out (the switch to memory) before the completed event,
    # then its lease, granted by Redis, was released there inline: a second timeout
    # between the completed event and the trailers.
    async with gateway(private_redis, MOCK_TOKEN_DELAY_MS="5") as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        request = chat_pb2.StreamChatRequest(message="tell me more", conversation_id="c1")
        events = aiter(stub.StreamChat(request, metadata=bearer(mint("streamer"))))
        kinds: list[str | None] = []
        while "delta" not in kinds:  # admitted by Redis, the model answering
            kinds.append((await anext(events)).WhichOneof("event"))
        with stalled(private_redis):
            arrived = [("stalled", time.monotonic())]
            async for event in events:
                arrived.append((event.WhichOneof("event"), time.monotonic()))
            trailers_at = time.monotonic()
        assert running.app.metrics.storage_fallback._value.get() == 1, "Redis was not used"
    (_, before_at), (last, completed_at) = arrived[-2:]
    assert last == "completed", arrived
    assert completed_at - before_at < TIMEOUT_S + SLACK_S, f"the history write, once: {arrived}"
    took = trailers_at - completed_at
    assert took < SLACK_S, f"{took:.2f} s from the completed event to the trailers"
