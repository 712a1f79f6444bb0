"""Conversation history costs a fixed, small number of Redis round trips.

Counted twice: at the client (each ``RedisStore.command()`` is one exchange
with the server) and at a real redis-server (``INFO commandstats``).
"""

from __future__ import annotations

import pytest

from novaos.conversations import ConversationHistory
from novaos.errors import NotFoundError
from novaos.ports import OpenedTurn
from novaos.storage import RedisStore
from tests.fixtures.redis_server import RedisServer


class CountingRedisStore(RedisStore):
    def __init__(self, store: RedisStore) -> None:
        super().__init__(store.client, max_in_flight=4, timeout_s=2)
        self.trips = 0

    def command(self):  # type: ignore[no-untyped-def]
        self.trips += 1
        return super().command()


def _calls(server: RedisServer) -> dict[str, int]:
    """Calls per command since the last ``CONFIG RESETSTAT``."""
    calls = {}
    for line in server.cli("info", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, _, fields = line.removeprefix("cmdstat_").partition(":")
            calls[name] = int(fields.split(",")[0].removeprefix("calls="))
    # redis-cli's own commands, and a new pooled connection's handshake
    for own in ("info", "config|resetstat", "hello", "client|setinfo", "select"):
        calls.pop(own, None)
    return calls


async def test_a_request_reads_history_in_one_round_trip_and_writes_it_in_two(
    private_redis: RedisServer,
) -> None:
    # A server of its own: the counts are server-wide, and another test's
    # gateway on the shared one pings it now and then.
    redis_server, redis_url = private_redis, private_redis.url
    store = CountingRedisStore(RedisStore.from_url(redis_url, pool_size=4, timeout_s=2))
    history = ConversationHistory(store, max_turns=10, ttl_s=3600)
    try:
        for new in (True, False):  # a new conversation, then one that exists
            redis_server.cli("config", "resetstat")
            store.trips = 0
            earlier = await history.history("alice", "c1")
            assert len(earlier) == (0 if new else 2)
            assert store.trips == 1
            assert _calls(redis_server) == {"multi": 1, "get": 2, "lrange": 1, "exec": 1}
            redis_server.cli("config", "resetstat")
            await history.append_turns("alice", "c1", (("user", "q"), ("assistant", "a")))
            assert store.trips == 3  # the read above, then two
            calls = _calls(redis_server)
            assert calls["multi"] == calls["exec"] == 2
            # The exchange is one push with one write id, by a script in the
            # transaction (its two turns, and the id beside them); every write
            # ranks the conversation in the owner's index.
            assert calls["eval"] == 1
            assert calls["rpush"] == 2 + 1
            assert calls["ltrim"] == 2  # the turns and the ids
            assert calls["zadd"] == calls["zremrangebyrank"] == 1
            # the turns', the ids', the index's, and the claim's TTL
            assert calls["pexpire"] == 2 + 1 + (0 if new else 1)
        turns = await history.history("alice", "c1")
        assert [t.content for t in turns] == ["q", "a", "q", "a"]
    finally:
        await store.aclose()


async def test_a_chat_request_costs_one_read_and_one_write_or_only_a_write_when_new(
    private_redis: RedisServer,
) -> None:
    # A server of its own: the counts are server-wide, and another test's
    # gateway on the shared one pings it now and then.
    redis_server, redis_url = private_redis, private_redis.url
    """The chat service's path: a conversation id the server made up needs no
    read; a continued one is read (``open_turn``, nothing written) and written
    in one round trip each, the write taking what the read found."""
    store = CountingRedisStore(RedisStore.from_url(redis_url, pool_size=4, timeout_s=2))
    history = ConversationHistory(store, max_turns=10, ttl_s=3600)
    exchange = (("user", "q"), ("assistant", "a"))
    try:
        redis_server.cli("config", "resetstat")
        await history.append_turns("alice", "c1", exchange, opened=OpenedTurn.fresh())
        assert store.trips == 1
        calls = _calls(redis_server)
        assert calls["multi"] == calls["exec"] == 1
        assert "get" not in calls
        assert calls["rpush"] == 3  # two turns and their write's id
        assert calls["zadd"] == 1  # the owner's index
        for _ in range(2):
            redis_server.cli("config", "resetstat")
            store.trips = 0
            opened = await history.open_turn("alice", "c1")
            assert store.trips == 1
            assert _calls(redis_server) == {"multi": 1, "get": 2, "lrange": 1, "exec": 1}
            assert opened.ours
            await history.append_turns("alice", "c1", exchange, opened=opened)
            assert store.trips == 2
            calls = _calls(redis_server)
            assert calls["multi"] == calls["exec"] == 2
            assert calls["get"] == 2  # the read's, none again
            assert calls["rpush"] == 3
            assert calls["zadd"] == 1  # ranked again: most recently updated now
        turns = [m.content for m in await history.history("alice", "c1")]
        assert turns == ["q", "a"] * 3
        with pytest.raises(NotFoundError):
            await history.open_turn("bob", "c1")
    finally:
        await store.aclose()


async def test_listing_reads_a_page_of_conversations_in_one_round_trip(redis_url: str) -> None:
    store = CountingRedisStore(RedisStore.from_url(redis_url, pool_size=4, timeout_s=2))
    history = ConversationHistory(store, max_turns=10, ttl_s=3600)
    try:
        for i in range(30):
            await history.append("alice", f"c{i}", "user", "hello")
        store.trips = 0
        listed = await history.list("alice", limit=10)
        assert store.trips == 2  # the index, then one page of metadata and counts
        assert len(listed) == 10
        assert all(s.turn_count == 1 for s in listed)
    finally:
        await store.aclose()
