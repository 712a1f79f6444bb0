"""A request's exchange is stored once, even when Redis ran a write it did not answer.

A Redis that stalls (a slow command, a fork, a paused VM) past the command
timeout still runs the MULTI/EXEC queued on the socket once it wakes up. The
write was then made again, on memory, and copied back to Redis after the
outage (redis-py's one retry, for a dropped connection, could resend it too).
The history sent to the model with the next turn held the exchange twice.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from novaos.conversations import ConversationHistory, conversation_key_group
from novaos.storage import FailoverStore, RedisStore
from novaos.storage.memory import MemoryStore
from novaos.storage.redis_store import pushed_ids_key
from tests.fixtures.common import await_until, wait_until
from tests.fixtures.cutting_proxy import CuttingProxy
from tests.fixtures.redis_server import RedisServer

_TIMEOUT_S = 0.5


class Fallbacks:
    def __init__(self) -> None:
        self.started = 0

    def fallback_active(self, active: bool) -> None:
        self.started += active


@pytest.mark.parametrize(
    ("stall_s", "falls_back"),
    [
        # A timed-out command is not retried: memory takes the write and copies
        # it back, whether Redis wakes soon after the timeout or much later.
        pytest.param(1.6 * _TIMEOUT_S, True, id="redis-awake-soon-after-the-timeout"),
        pytest.param(3.0 * _TIMEOUT_S, True, id="memory-takes-it-and-copies-it-back"),
    ],
)
async def test_an_exchange_redis_ran_late_is_stored_once(
    tmp_path: Path, stall_s: float, falls_back: bool
) -> None:
    server = RedisServer(tmp_path / "redis", extra_args=("--enable-debug-command", "yes")).start()
    primary = RedisStore.from_url(server.url, pool_size=4, timeout_s=_TIMEOUT_S)
    store = FailoverStore(
        primary,
        fallback=MemoryStore(eviction_group=conversation_key_group),
        min_backoff_s=0.05,
        max_backoff_s=0.2,
        replay=lambda key: conversation_key_group(key) is not None,
        observer=(fallbacks := Fallbacks()),
    )
    history = ConversationHistory(store, max_turns=20, ttl_s=3600)
    try:
        await store.connect()
        await history.append_turns("alice", "c1", (("user", "q1"), ("assistant", "a1")))
        opened = await history.open_turn("alice", "c1")
        with socket.create_connection(("127.0.0.1", server.port)) as sleeper:
            sleeper.sendall(f"DEBUG SLEEP {stall_s}\r\n".encode())
            wait_until(lambda: not server.answers_promptly(), timeout_s=5, what="Redis stalled")
            # Queued on the socket while Redis sleeps; it runs when Redis wakes.
            exchange = (("user", "q2"), ("assistant", "a2"))
            await history.append_turns("alice", "c1", exchange, opened=opened)
            assert sleeper.recv(16) == b"+OK\r\n"  # the stall is over
        assert fallbacks.started == falls_back  # the path this case is about was taken
        await await_until(
            lambda: _back_on_redis(store), timeout_s=10, what="writes copied back to Redis"
        )
        texts = [m.content for m in await history.history("alice", "c1")]
        assert texts == ["q1", "a1", "q2", "a2"]
        assert server.cli("LLEN", "nova:conv:{alice}:c1:turns").strip() == "4"
    finally:
        await store.aclose()
        server.kill()


async def test_an_exchange_whose_answer_was_cut_is_stored_once(tmp_path: Path) -> None:
    # The connection dies after Redis ran the write: redis-py's retry sends the
    # same MULTI/EXEC again on a new connection.
    server = RedisServer(tmp_path / "redis").start()
    async with CuttingProxy(server.port).running() as proxy:
        store = RedisStore.from_url(proxy.url, pool_size=4, timeout_s=2)
        history = ConversationHistory(store, max_turns=20, ttl_s=3600)
        try:
            await history.append_turns("alice", "c1", (("user", "q1"), ("assistant", "a1")))
            opened = await history.open_turn("alice", "c1")
            proxy.cut_next_reply = True
            await history.append_turns(
                "alice", "c1", (("user", "q2"), ("assistant", "a2")), opened=opened
            )
            assert proxy.cuts == 1, "the write's answer should have been cut"
            texts = [m.content for m in await history.history("alice", "c1")]
            assert texts == ["q1", "a1", "q2", "a2"]
        finally:
            await store.aclose()
            server.kill()


async def _back_on_redis(store: FailoverStore) -> bool:
    return store.primary_available and store.journal_size == 0


async def test_the_ids_kept_beside_a_list_are_as_many_and_as_short_lived_as_its_items(
    redis_url: str, redis_server: RedisServer
) -> None:
    # No key per write: the ids live in one list beside the turns, trimmed and
    # expiring with them.
    store = RedisStore.from_url(redis_url, pool_size=2, timeout_s=2)
    history = ConversationHistory(store, max_turns=3, ttl_s=60)
    try:
        for n in range(4):
            await history.append_turns("bob", "c1", (("user", f"q{n}"), ("assistant", f"a{n}")))
        turns = "nova:conv:{bob}:c1:turns"
        ids = pushed_ids_key(turns)
        assert redis_server.cli("LLEN", ids).strip() == "3"
        assert 0 < int(redis_server.cli("PTTL", ids)) <= 60_000
        keys = set(redis_server.cli("--scan").split())
        assert keys == {turns, ids, "nova:conv:{bob}:c1:meta", "nova:conv:{bob}:recent",
                        "nova:convowner:{c1}"}  # fmt: skip
    finally:
        await store.aclose()
