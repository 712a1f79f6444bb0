"""ListConversations on a real Redis: a page costs its own size, an owner's
index from an earlier release (a list) is moved into the ranked one, and it
lists what GetConversation finds, nothing more."""

from __future__ import annotations

import itertools
import json
import time

import pytest
import redis

from novaos.conversations import ConversationHistory
from novaos.errors import NotFoundError
from novaos.storage import RedisStore
from tests.fixtures.redis_server import RedisServer
from tests.integration.storage.test_round_trips import _calls


async def test_a_page_of_ten_reads_ten_conversations_of_five_hundred(
    private_redis: RedisServer,
) -> None:
    # Every indexed conversation (up to 1,000) was read per call, whatever the
    # page size: a user with a few hundred listing in a loop doubled another
    # user's latency on the same Redis.
    store = RedisStore.from_url(private_redis.url, pool_size=4, timeout_s=2)
    ticks = itertools.count()  # each write 10 ms after the last: no ties by chance
    started = time.time()
    history = ConversationHistory(
        store, max_turns=10, ttl_s=3600, clock=lambda: started + next(ticks) / 100
    )
    try:
        for i in range(500):
            await history.append_turns("heavy", f"c{i}", (("user", "q"), ("assistant", "a")))
        await history.append("heavy", "c0", "user", "the oldest, written last")
        private_redis.cli("config", "resetstat")
        listed = await history.list("heavy", limit=10)
        assert [s.conversation_id for s in listed][:2] == ["c0", "c499"]
        assert listed[0].turn_count == 3 and len(listed) == 10
        calls = _calls(private_redis)
        # the page's ids and the old index's length, then ten metadata, turn counts, claims
        assert calls == {
            "multi": 2, "exec": 2, "zrevrangebyscore": 1, "llen": 1 + 10, "get": 10 + 10,
        }  # fmt: skip
    finally:
        await store.aclose()


async def test_an_earlier_releases_list_index_is_moved_and_deleted(
    private_redis: RedisServer,
) -> None:
    # What an earlier release left in Redis: ids in creation order in a list
    # under ``:index`` (a sorted-set command on it would fail with WRONGTYPE).
    legacy, recent = "nova:conv:{alice}:index", "nova:conv:{alice}:recent"
    now = int(time.time())
    with redis.Redis(port=private_redis.port) as client:
        for n, conversation_id in enumerate(("first", "second", "expired", "third")):
            base = f"nova:conv:{{alice}}:{conversation_id}"
            client.rpush(legacy, conversation_id)
            if conversation_id != "expired":
                updated = now - (1000 if conversation_id == "third" else 10 + n)
                meta = {"owner": "alice", "created": now - 2000 + n, "updated": updated}
                client.set(f"{base}:meta", json.dumps(meta), px=3_600_000)
                client.rpush(f"{base}:turns", b'{"role":"user","text":"hi","at":0}')
        store = RedisStore.from_url(private_redis.url, pool_size=4, timeout_s=2)
        history = ConversationHistory(store, max_turns=10, ttl_s=3600)
        try:
            listed = [s.conversation_id for s in await history.list("alice")]
            assert listed == ["first", "second", "third"]  # by last update, not creation
            assert client.exists(legacy) == 0
            assert client.type(recent) == b"zset"
            assert client.zrevrange(recent, 0, -1) == [b"first", b"second", b"third"]
            await history.append("alice", "third", "user", "after the move")
            listed = [s.conversation_id for s in await history.list("alice", limit=2)]
            assert listed == ["third", "first"]
        finally:
            await store.aclose()


async def test_a_conversation_whose_id_another_owner_holds_is_not_listed(redis_url: str) -> None:
    # Turns a write left under bob's own keys after the id had become kim's (its
    # claim expired mid-request, or a Redis outage let bob take it in memory): bob's
    # listing named it, with its turn count, while Get and Chat said NOT_FOUND and
    # Delete succeeded.
    store = RedisStore.from_url(redis_url, pool_size=2, timeout_s=2)
    history = ConversationHistory(store, max_turns=10, ttl_s=3600)
    exchange = (("user", "q"), ("assistant", "a"))
    try:
        await history.append_turns("bob", "own", exchange)
        opened = await history.open_turn("bob", "shared")
        opened = await history.claim_turn("bob", "shared", opened)
        await store.delete("nova:convowner:{shared}")  # expired, as bob's request ran
        await history.append_turns("kim", "shared", exchange)  # kim's now
        await history.append_turns("bob", "shared", exchange, opened=opened)
        assert await store.get("nova:convowner:{shared}") == b"kim"
        with pytest.raises(NotFoundError):
            await history.get("bob", "shared")
        assert [s.conversation_id for s in await history.list("bob")] == ["own"]
        with pytest.raises(NotFoundError):
            await history.delete("bob", "shared")
        assert [(s.conversation_id, s.turn_count) for s in await history.list("kim")] == [
            ("shared", 2)
        ]
    finally:
        await store.aclose()
