"""Conversation turns written while Redis is down reach Redis when it is back,
in order, once each, and a conversation keeps its owner. A conversation memory
does not hold whole is refused while Redis is away, never read as new."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest
import redis

from novaos.config import Settings
from novaos.conversations import ConversationHistory, conversation_key_group
from novaos.errors import (
    AckInvalidError,
    HistoryUnavailableError,
    NotFoundError,
    StorageFullError,
    StorageUnavailableError,
)
from novaos.pipeline.ack import AckTokens, is_nonce_key
from novaos.ports import ChatMessage, OpenedTurn
from novaos.storage import (
    FailoverStore,
    MemoryStore,
    RedisClusterStore,
    RedisStore,
    build_store,
)
from tests.fixtures.common import await_until, free_port
from tests.fixtures.redis_server import RedisClusterNodes, RedisServer


def settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "redis_url": url,
        "require_auth": False,
        "redis_reconnect_min_backoff_ms": 50,
        "redis_reconnect_max_backoff_ms": 300,
        "redis_command_timeout_ms": 500,
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


def turns(*texts: str) -> tuple[ChatMessage, ...]:
    return tuple(ChatMessage("user", t) for t in texts)


class Writer:
    """Appends one turn the way the chat service does (``open_turn``, then one
    write that takes what it found) or with ``append`` alone."""

    def __init__(self, history: ConversationHistory, *, as_requests: bool) -> None:
        self.history, self.as_requests = history, as_requests

    async def __call__(self, owner: str, conversation_id: str, text: str) -> None:
        if not self.as_requests:
            return await self.history.append(owner, conversation_id, "user", text)
        opened = await self.history.open_turn(owner, conversation_id)
        opened = await self.history.claim_turn(owner, conversation_id, opened)
        await self.history.append_turns(owner, conversation_id, (("user", text),), opened=opened)

    async def new(self, owner: str, conversation_id: str, text: str) -> None:
        """The first turn of a conversation whose id the server made up."""
        turn = (("user", text),)
        await self.history.append_turns(owner, conversation_id, turn, opened=OpenedTurn.fresh())


def outage_history(store: FailoverStore, *, max_turns: int) -> ConversationHistory:
    return ConversationHistory(store, max_turns=max_turns, ttl_s=3600, fallback=store)


@pytest.mark.parametrize("as_requests", [False, True], ids=["append", "chat-requests"])
async def test_turns_appended_during_an_outage_survive_recovery(
    durable_redis: RedisServer, caplog: pytest.LogCaptureFixture, as_requests: bool
) -> None:
    caplog.set_level(logging.INFO, logger="novaos.storage")
    store = build_store(settings(durable_redis.url), history_group=conversation_key_group)
    assert isinstance(store, FailoverStore)
    await store.connect()
    history = outage_history(store, max_turns=50)
    write = Writer(history, as_requests=as_requests)
    await write("alice", "c1", "before-1")
    await write("alice", "c1", "before-2")
    await write("alice", "c0", "alice owns c0")
    in_flight = await history.open_turn("alice", "c1")  # a request Redis answered...

    durable_redis.kill()
    # ...whose write notices the outage: memory holds c1's last turn only.
    await history.append_turns("alice", "c1", (("user", "during-1"),), opened=in_flight)
    assert not store.primary_available
    await write.new("alice", "c2", "outage-1")  # an id the server made: claimed in memory
    for i in range(2, 4):
        await write("alice", "c2", f"outage-{i}")
    with pytest.raises(NotFoundError):
        await write("bob", "c2", "alice claimed c2 in memory")
    # Memory holds neither c0's claim nor c1's earlier turns: refused, not taken.
    for owner, conversation in (("bob", "c0"), ("alice", "c0"), ("alice", "c1")):
        with pytest.raises(HistoryUnavailableError):
            await write(owner, conversation, "refused while Redis is away")
    assert [s.conversation_id for s in await history.list("alice")] == ["c2"]  # as Get
    assert store.journal_size > 0

    durable_redis.start()  # same port, data restored from the AOF
    await await_until(
        lambda: _primary(store), timeout_s=10, what="reconnect and copy-back within 10 s"
    )
    assert store.journal_size == 0
    assert any("back to Redis" in m for m in caplog.messages)

    c1 = turns("before-1", "before-2", "during-1")
    assert await history.history("alice", "c1") == c1
    assert await history.history("alice", "c2") == turns("outage-1", "outage-2", "outage-3")
    assert await history.history("alice", "c0") == turns("alice owns c0")
    for conversation in ("c0", "c2"):  # alice's claims hold in Redis; bob's memory claim lost
        with pytest.raises(NotFoundError):
            await history.history("bob", conversation)
        with pytest.raises(NotFoundError):
            await history.append("bob", conversation, "user", "after recovery")
    with redis.Redis(port=durable_redis.port) as client:
        assert client.get("nova:convowner:{c2}") == b"alice"
        assert client.get("nova:convowner:{c0}") == b"alice"
        assert client.get("nova:convowner:{c1}") == b"alice"
        assert 0 < client.pttl("nova:conv:{alice}:c2:turns") <= 3600 * 1000
        # The outage's writes ranked c1 and c2 above c0 in the listing index too.
        assert client.type("nova:conv:{alice}:recent") == b"zset"
        assert client.zrevrange("nova:conv:{alice}:recent", 0, -1) == [b"c2", b"c1", b"c0"]
    summaries = [(s.conversation_id, s.turn_count) for s in await history.list("alice")]
    assert summaries == [("c2", 3), ("c1", 3), ("c0", 1)]
    await store.aclose()


async def test_an_id_held_in_redis_is_not_taken_during_an_outage(
    durable_redis: RedisServer,
) -> None:
    # Memory cannot tell kim's conversation from an unused id: bob naming it was
    # answered as new and claimed it in memory (kim got NOT_FOUND on her own
    # conversation until Redis was back).
    store = build_store(settings(durable_redis.url), history_group=conversation_key_group)
    assert isinstance(store, FailoverStore)
    await store.connect()
    history = outage_history(store, max_turns=50)
    write = Writer(history, as_requests=True)
    await write("kim", "k1", "kim's first turn")
    durable_redis.kill()
    with pytest.raises(HistoryUnavailableError, match="start a new conversation"):
        await write("bob", "k1", "bob names kim's id")
    assert not store.primary_available
    with pytest.raises(HistoryUnavailableError):
        await write("kim", "k1", "kim goes on")
    with pytest.raises(HistoryUnavailableError):
        await history.get("kim", "k1")
    with pytest.raises(HistoryUnavailableError):  # it may be there: not "not found"
        await history.delete("kim", "k1")
    assert await history.list("bob") == () and store.journal_size == 0

    durable_redis.start()
    await await_until(lambda: _primary(store), timeout_s=10, what="reconnect")
    assert await history.history("kim", "k1") == turns("kim's first turn")
    with pytest.raises(NotFoundError):
        await history.get("bob", "k1")
    await write("kim", "k1", "kim goes on")
    assert len(await history.history("kim", "k1")) == 2
    await store.aclose()


async def test_outage_turns_append_after_the_ones_redis_kept(durable_redis: RedisServer) -> None:
    store = build_store(settings(durable_redis.url), history_group=conversation_key_group)
    assert isinstance(store, FailoverStore)
    await store.connect()
    history = outage_history(store, max_turns=5)
    for i in range(3):
        await history.append("alice", "long", "user", f"r{i}")
    opened = await history.open_turn("alice", "long")
    durable_redis.kill()
    outage_turns = tuple(("user", f"m{i}") for i in range(4))
    await history.append_turns("alice", "long", outage_turns, opened=opened)  # to memory
    assert not store.primary_available
    with pytest.raises(HistoryUnavailableError):  # memory holds its last four turns only
        await history.history("alice", "long")
    durable_redis.start()
    await await_until(lambda: _primary(store), timeout_s=10, what="reconnect")
    # Redis's three turns, then the outage's four, trimmed to the newest five.
    assert await history.history("alice", "long") == turns("r2", "m0", "m1", "m2", "m3")
    await store.aclose()


async def test_a_retried_copy_appends_each_turn_once(redis_url: str) -> None:
    primary = RedisStore.from_url(redis_url, pool_size=2, timeout_s=1)
    key = "nova:conv:{alice}:c1:turns"
    assert await primary.replay_push(key, b"t1", max_len=10, ttl_ms=60_000, op_id="a")
    assert not await primary.replay_push(key, b"t1", max_len=10, ttl_ms=60_000, op_id="a")
    assert await primary.replay_push(key, b"t2", max_len=10, ttl_ms=60_000, op_id="b")
    assert await primary.list_range(key) == [b"t1", b"t2"]
    assert await primary.list_len(key) == 2
    await primary.aclose()


async def test_a_retried_copy_of_an_exchange_appends_it_once_and_whole(redis_url: str) -> None:
    primary = RedisStore.from_url(redis_url, pool_size=2, timeout_s=1)
    key = "nova:conv:{alice}:pair:turns"
    assert await primary.replay_push(key, b"q", b"a", max_len=10, ttl_ms=60_000, op_id="w")
    assert not await primary.replay_push(key, b"q", b"a", max_len=10, ttl_ms=60_000, op_id="w")
    assert await primary.list_range(key) == [b"q", b"a"]
    await primary.aclose()


class _LosesItsFirstCopysReply:
    """Redis runs the first push copied back after the outage, but its reply is
    lost; meanwhile another replica, on Redis all along, writes an exchange."""

    meanwhile: Callable[[], Awaitable[None]]
    armed = False  # once the outage began (a cluster's own pushes with an id come here too)
    lost = 0

    async def replay_push(
        self, key: str, *values: bytes, max_len: int, ttl_ms: int | None, op_id: str
    ) -> bool:
        applied: bool = await super().replay_push(  # type: ignore[misc]
            key, *values, max_len=max_len, ttl_ms=ttl_ms, op_id=op_id
        )
        if self.armed and not self.lost:
            self.lost += 1
            await self.meanwhile()
            raise StorageUnavailableError("redis unavailable: ConnectionError")
        return applied


class _RedisLosing(_LosesItsFirstCopysReply, RedisStore):
    pass


class _ClusterLosing(_LosesItsFirstCopysReply, RedisClusterStore):
    pass


@pytest.mark.parametrize("backend", ["redis", "redis_cluster"])
async def test_an_outage_exchange_is_copied_back_whole_and_once(
    backend: str, redis_url: str, redis_cluster: RedisClusterNodes
) -> None:
    # The journal held an exchange as two pushes, copied one at a time: another
    # replica's exchange landed between its question and its answer.
    primary: RedisStore
    other: RedisStore
    if backend == "redis":
        primary = _RedisLosing.from_url(redis_url, pool_size=2, timeout_s=2)
        other = RedisStore.from_url(redis_url, pool_size=2, timeout_s=2)
    else:
        nodes = redis_cluster.addresses
        primary = _ClusterLosing.from_nodes(nodes, pool_size=2, timeout_s=2)
        other = RedisClusterStore.from_nodes(nodes, pool_size=2, timeout_s=2)
    store = FailoverStore(
        primary,
        fallback=MemoryStore(eviction_group=conversation_key_group),
        min_backoff_s=0.05,
        max_backoff_s=0.2,
        replay=lambda key: conversation_key_group(key) is not None,
    )
    history = outage_history(store, max_turns=20)
    elsewhere = ConversationHistory(other, max_turns=20, ttl_s=3600)
    owner, conversation_id = f"alice-{backend}", "c1"
    assert isinstance(primary, _LosesItsFirstCopysReply)
    primary.meanwhile = lambda: elsewhere.append_turns(
        owner, conversation_id, (("user", "q3"), ("assistant", "a3"))
    )
    try:
        await store.connect()
        await history.append_turns(owner, conversation_id, (("user", "q1"), ("assistant", "a1")))
        opened = await history.open_turn(owner, conversation_id)
        store.primary_failed()  # as a timed-out command would
        primary.armed = True
        exchange = (("user", "q2"), ("assistant", "a2"))
        await history.append_turns(owner, conversation_id, exchange, opened=opened)
        assert store.journal_size > 0
        await await_until(
            lambda: _copied_back(store), timeout_s=10, what="writes copied back to Redis"
        )
        assert primary.lost == 1  # the path this test is about was taken
        texts = [m.content for m in await history.history(owner, conversation_id)]
        assert texts == ["q1", "a1", "q2", "a2", "q3", "a3"]
    finally:
        await history.delete(owner, conversation_id)
        await store.aclose()
        await other.aclose()


async def _copied_back(store: FailoverStore) -> bool:
    return store.primary_available and store.journal_size == 0


async def test_a_full_journal_refuses_history_writes_instead_of_losing_them() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    # The first write journals five writes (claim, its TTL, turns, metadata, index),
    # each later one four (the claim is there): the 25th fills the journal, the
    # 26th is refused before its turn is stored.
    store = build_store(
        settings(url, memory_store_max_keys=101), history_group=conversation_key_group
    )
    assert isinstance(store, FailoverStore)
    await store.connect()
    history = outage_history(store, max_turns=500)
    await Writer(history, as_requests=False).new("alice", "c1", "first")
    written = 1
    with pytest.raises(StorageFullError):
        while True:
            size = store.journal_size
            await history.append("alice", "c1", "user", "more")
            written += 1
    # Refused whole, none of it applied: a write's batch (claim, turns, metadata,
    # index: up to five entries) is not begun when it might not fit.
    assert store.journal_size == size and 101 - 5 < size <= 101
    assert len(await history.history("alice", "c1")) == written
    assert await store.incr("nova:veto:{alice}", ttl_ms=60_000) == 1  # counters unaffected
    await store.aclose()


async def _primary(store: FailoverStore) -> bool:
    return store.primary_available


async def test_an_ack_token_redeemed_during_an_outage_stays_used_after_it(
    durable_redis: RedisServer,
) -> None:
    # The nonce burned on the memory fallback must reach Redis: memory is
    # cleared at the switch back, and Redis never saw the redemption.
    store = build_store(
        settings(durable_redis.url), history_group=conversation_key_group, copy_back=is_nonce_key
    )
    assert isinstance(store, FailoverStore)
    await store.connect()
    tokens = AckTokens(b"k" * 32, store)
    token, _, _ = tokens.issue("alice", "c1", "a risky question", "RISK")
    try:
        durable_redis.kill()
        assert await tokens.redeem(token, "alice", "c1", "a risky question") == "RISK"
        assert not store.primary_available
        durable_redis.start()
        await await_until(lambda: _primary(store), timeout_s=5, what="the switch back")
        with pytest.raises(AckInvalidError, match="already used"):
            await tokens.redeem(token, "alice", "c1", "a risky question")
    finally:
        await store.aclose()
