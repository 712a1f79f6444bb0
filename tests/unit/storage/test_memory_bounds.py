"""The in-process store stays bounded: expiry frees keys, a cap evicts whole
conversations least recently used first, and limit state is never evicted."""

from __future__ import annotations

import pytest

from novaos.conversations import (
    ConversationHistory,
    conversation_key_group,
    conversation_tombstone,
)
from novaos.errors import NotFoundError, StorageFullError
from novaos.ports import ChatMessage
from novaos.storage import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bounded(max_keys: int, clock: Clock | None = None) -> MemoryStore:
    return MemoryStore(
        clock=clock or Clock(), max_keys=max_keys, eviction_group=conversation_key_group
    )


async def test_expired_keys_are_freed_without_being_read() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    for i in range(1000):
        await store.set(f"nonce:{i}", b"1", ttl_ms=1000)
        await store.list_push(f"list:{i}", b"x", max_len=5, ttl_ms=2000)
    await store.set("kept", b"1")
    assert store.key_count() == 2001
    clock.now += 1.5
    await store.get("kept")  # any call sweeps what has expired
    assert store.key_count() == 1001
    clock.now += 1.0
    await store.get("kept")
    assert store.key_count() == 1
    assert store.expired == 2000


async def test_a_refreshed_ttl_is_honoured_not_the_first_one() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    for _ in range(5000):  # many refreshes of one key leave stale expiry items behind
        await store.list_push("turns", b"t", max_len=3, ttl_ms=1000)
        clock.now += 0.1
    assert await store.list_range("turns") == [b"t", b"t", b"t"]
    clock.now += 0.85  # 0.95 s after the last push
    assert await store.list_len("turns") == 3
    clock.now += 0.1
    assert await store.list_len("turns") == 0
    assert store.key_count() == 0


async def test_many_conversations_stay_under_the_cap() -> None:
    store = bounded(200)
    history = ConversationHistory(store, max_turns=4, ttl_s=3600)
    for i in range(1000):
        await history.append(f"user{i % 50}", f"conv{i}", "user", f"hello {i}")
        assert store.key_count() <= 200
    assert store.evicted > 0
    newest = await history.history("user49", "conv999")
    assert newest == (ChatMessage("user", "hello 999"),)
    assert await history.history("user0", "conv0") == ()  # evicted long ago


async def test_eviction_is_least_recently_used_and_whole_conversations() -> None:
    store = bounded(40)
    history = ConversationHistory(store, max_turns=4, ttl_s=3600)
    await history.append("alice", "old-but-read", "user", "keep me")
    await history.append("alice", "old-unread", "user", "drop me")
    for i in range(30):
        await history.history("alice", "old-but-read")  # reading counts as use
        await history.append("bob", f"b{i}", "user", "filler")
    assert await history.history("alice", "old-but-read") == (ChatMessage("user", "keep me"),)
    assert await history.history("alice", "old-unread") == ()
    # The owner claim left with its history: anyone may start "old-unread" afresh,
    # and no surviving history lacks its claim.
    assert await store.get("nova:convowner:{old-unread}") is None
    for i in range(30):
        claim = await store.get(f"nova:convowner:{{b{i}}}")
        kept = await history.history("bob", f"b{i}")
        assert (claim is not None) == bool(kept)


async def test_limit_state_is_never_evicted_and_a_full_store_refuses() -> None:
    store = bounded(100)
    history = ConversationHistory(store, max_turns=4, ttl_s=3600)
    for i in range(20):
        await history.append("alice", f"c{i}", "user", "x")
    for i in range(100):  # shield/spark counters and ack nonces: no eviction group
        if i < 60:
            assert await store.incr(f"nova:veto:{{u{i}}}", ttl_ms=60_000) == 1
        else:
            assert await store.set(f"nova:ack:{i}", b"1", ttl_ms=60_000, nx=True)
    # Conversations made room for every counter; then nothing is left to evict.
    assert await history.history("alice", "c19") == ()
    assert store.key_count() == 100
    with pytest.raises(StorageFullError, match="MEMORY_STORE_MAX_KEYS"):
        await store.incr("nova:veto:{late}", ttl_ms=60_000)
    with pytest.raises(StorageFullError):
        await history.append("alice", "c-new", "user", "x")
    for i in range(60):  # every counter kept its count: no user got a fresh budget
        assert await store.incr(f"nova:veto:{{u{i}}}") == 2
    assert not await store.set("nova:ack:60", b"1", ttl_ms=60_000, nx=True)  # no replay


def test_conversation_key_groups() -> None:
    group = conversation_key_group
    assert group("nova:conv:{alice}:c1:meta") == group("nova:conv:{alice}:c1:turns")
    assert group("nova:conv:{alice}:c1:meta") == group("nova:convowner:{c1}")
    assert group("nova:conv:{alice}:index") != group("nova:conv:{alice}:c1:meta")
    # the listing index, and the list it replaces: one group per owner, history
    assert group("nova:conv:{alice}:recent") == group("nova:conv:{alice}:index") is not None
    assert group("nova:conv:{alice}:recent") != group("nova:conv:{bob}:recent")
    assert group("nova:conv:{alice}:recent:meta") == group("nova:convowner:{recent}")  # an id
    for key in ("nova:veto:{alice}", "nova:spark:{alice}:count", "nova:ack:abc", "x"):
        assert group(key) is None


def with_tombstones(max_keys: int, clock: Clock, max_tombstones: int | None = None) -> MemoryStore:
    return MemoryStore(
        clock=clock,
        max_keys=max_keys,
        eviction_group=conversation_key_group,
        tombstone=conversation_tombstone,
        max_tombstones=max_tombstones,
    )


async def test_an_evicted_conversation_is_refused_not_continued_as_new() -> None:
    # Memory-only, an evicted id read as new: its owner's next turn went to the
    # model (and the shield) with none of its history, a crisis stated in it
    # unseen, and any other user who named it took it from its owner.
    clock = Clock()
    store = with_tombstones(40, clock)
    history = ConversationHistory(store, max_turns=4, ttl_s=3600, clock=clock)
    await history.append_turns("alice", "told", (("user", "I feel hopeless"), ("assistant", "..")))
    for i in range(30):
        await history.append("bob", f"b{i}", "user", "filler")
    assert await store.get("nova:conv:{alice}:told:turns") is None  # evicted

    for read in (history.history, history.get, history.delete):
        with pytest.raises(NotFoundError, match="'told' has expired"):
            await read("alice", "told")
    with pytest.raises(NotFoundError, match="'told' has expired"):
        await history.append("alice", "told", "user", "what should I do tonight?")
    # To anyone else it is another owner's id: the same answer as for any.
    with pytest.raises(NotFoundError) as foreign:
        await history.history("mallory", "told")
    with pytest.raises(NotFoundError) as unused:
        await history.history("mallory", "b29")
    assert str(foreign.value) == str(unused.value).replace("b29", "told")
    with pytest.raises(NotFoundError):
        await history.append("mallory", "told", "user", "mine now")
    assert await history.list("alice") == ()

    clock.now += 3600  # the claim's own deadline: the id is free, as one past its TTL
    assert await history.history("mallory", "told") == ()
    await history.append("mallory", "told", "user", "mine now")
    assert [t.text for t in (await history.get("mallory", "told")).turns] == ["mine now"]


async def test_tombstones_are_bounded_oldest_first() -> None:
    clock = Clock()
    store = with_tombstones(40, clock, max_tombstones=5)
    history = ConversationHistory(store, max_turns=4, ttl_s=3600, clock=clock)
    for i in range(200):
        await history.append("bob", f"b{i}", "user", "filler")
        assert store.key_count() <= 40 + 5  # tombstones make no room, and take none
    with pytest.raises(NotFoundError, match="expired"):  # among the latest evicted
        await history.history("bob", f"b{200 - 40 // 3 - 5}")
    assert await history.history("bob", "b0") == ()  # its tombstone is gone: new again
