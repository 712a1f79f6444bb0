"""WORKERS=2 on one Redis and one audit directory: a watcher sees every worker's records.

Before, a watcher heard only the worker its stream landed on, so with two
workers a SIEM tailing the log missed about half of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from generated.novaos.v1 import audit_pb2, audit_pb2_grpc, chat_pb2, chat_pb2_grpc
from tests.fixtures.common import wait_until
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.server import Subprocess, bearer, mint

Spawn = Callable[..., Subprocess]
ADMIN = bearer(mint("root", "enterprise", ("admin",)))
USER = bearer(mint("e2e-watch", "pro"))
BURST = 40
DEADLINE_S = 60.0
# A connection of its own per channel, so SO_REUSEPORT spreads them over the workers.
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


async def _chat(target: str, message: str) -> tuple[str, str]:
    """One Chat on a new connection: (request id, the worker that served it)."""
    async with grpc.aio.insecure_channel(target, options=OWN_CONNECTION) as channel:
        call = chat_pb2_grpc.ChatServiceStub(channel).Chat(
            chat_pb2.ChatRequest(message=message), metadata=USER, timeout=30
        )
        await call
        meta = dict(await call.trailing_metadata())  # a native unary reply: trailers
        return str(meta["x-request-id"]), str(meta["x-novaos-worker"])


async def _watch_and_chat(target: str) -> tuple[list[audit_pb2.AuditEvent], list[tuple[str, str]]]:
    events: asyncio.Queue[audit_pb2.AuditEvent] = asyncio.Queue()
    async with grpc.aio.insecure_channel(target, options=OWN_CONNECTION) as channel:
        stream = audit_pb2_grpc.AuditServiceStub(channel).WatchAuditEvents(
            audit_pb2.WatchAuditEventsRequest(), metadata=ADMIN
        )

        async def follow() -> None:
            async for message in stream:
                await events.put(message.event)

        follower = asyncio.create_task(follow())
        try:
            # Until the watcher hears a first record it may not be subscribed yet.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + DEADLINE_S
            seen: list[audit_pb2.AuditEvent] = []
            while not seen:
                assert loop.time() < deadline, "the watcher heard nothing"
                assert not follower.done(), follower
                await _chat(target, "warm up")
                try:
                    seen.append(await asyncio.wait_for(events.get(), 2.0))
                except TimeoutError:
                    continue
            sent = await asyncio.gather(*(_chat(target, f"q{i}") for i in range(BURST)))
            wanted = {request_id for request_id, _ in sent}
            while missing := wanted - {e.request_id for e in seen}:
                assert not follower.done(), follower
                try:
                    seen.append(await asyncio.wait_for(events.get(), deadline - loop.time()))
                except TimeoutError:
                    served = sorted(w for r, w in sent if r in missing)
                    raise AssertionError(
                        f"the watcher never got {len(missing)} of {BURST} records "
                        f"(served by workers {served})"
                    ) from None
            while not events.empty():  # anything delivered twice is here by now
                seen.append(events.get_nowait())
            return seen, list(sent)
        finally:
            follower.cancel()


@pytest.mark.parametrize("storage", ["file", "database"])
def test_a_watcher_gets_every_workers_records_once_in_order(
    spawn_server: Spawn,
    redis_url: str,
    tmp_path: Path,
    storage: str,
    request: pytest.FixtureRequest,
) -> None:
    sink = {"AUDIT_STORAGE_TYPE": storage, "AUDIT_FILE_PATH": str(tmp_path / "audit")}
    if storage == "database":
        sink["DATABASE_URL"] = request.getfixturevalue("postgres_dsn")
    srv = spawn_server(WORKERS="2", REDIS_URL=redis_url, **sink)
    wait_until(lambda: srv.count("serving on") >= 2, timeout_s=60, what="both workers up")
    seen, sent = asyncio.run(_watch_and_chat(f"127.0.0.1:{srv.port}"))
    workers = {worker for _, worker in sent}
    assert workers == {"0", "1"}, f"one worker served the whole burst: {sent}"
    seqs = [e.seq for e in seen]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # in order, none twice
    ids = [e.request_id for e in seen]
    assert len(ids) == len(set(ids))
    assert {request_id for request_id, _ in sent} <= set(ids)
    # Each worker's subscriber and publisher stop with it: a clean exit, no stray task.
    srv.proc.terminate()
    assert srv.proc.wait(timeout=30) == 0
    wait_until(lambda: srv.count("supervisor stopped") == 1, timeout_s=10, what="output read")
    output = "".join(srv.lines)
    assert "Traceback" not in output and "Task was destroyed" not in output, output


async def _watch_through_an_outage(target: str, redis: RedisServer) -> None:
    async with grpc.aio.insecure_channel(target, options=OWN_CONNECTION) as channel:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        stream = stub.WatchAuditEvents(audit_pb2.WatchAuditEventsRequest(), metadata=ADMIN)
        heard = asyncio.Event()

        async def follow() -> None:
            async for _ in stream:
                heard.set()

        follower = asyncio.create_task(follow())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE_S
        while not heard.is_set():  # subscribed once it hears a record
            assert loop.time() < deadline and not follower.done(), follower
            await _chat(target, "warm up")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(heard.wait(), 2.0)

        redis.kill()
        with pytest.raises(grpc.aio.AioRpcError) as cut:
            await asyncio.wait_for(follower, DEADLINE_S)
        assert cut.value.code() == grpc.StatusCode.UNAVAILABLE, cut.value
        assert "resume with List" in str(cut.value.details())
        # Requests go on, on both workers, without Redis to publish on.
        served = await asyncio.gather(*(_chat(target, f"after {i}") for i in range(10)))
        assert len(served) == 10
        again = stub.WatchAuditEvents(audit_pb2.WatchAuditEventsRequest(), metadata=ADMIN)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in again:
                pass
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, refused.value
        assert "Redis unavailable" in str(refused.value.details())


def test_redis_down_ends_watches_as_unavailable_and_requests_go_on(
    spawn_server: Spawn, private_redis: RedisServer, tmp_path: Path
) -> None:
    srv = spawn_server(
        WORKERS="2",
        REDIS_URL=private_redis.url,
        AUDIT_STORAGE_TYPE="file",
        AUDIT_FILE_PATH=str(tmp_path / "audit"),
    )
    wait_until(lambda: srv.count("serving on") >= 2, timeout_s=60, what="both workers up")
    asyncio.run(_watch_through_an_outage(f"127.0.0.1:{srv.port}", private_redis))
    srv.proc.terminate()
    assert srv.proc.wait(timeout=30) == 0
