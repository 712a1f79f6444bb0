"""A conversation read that Redis Cluster fails part-way through (its batches run
op by op) is judged on memory's answers alone, never on some from each.

Half from Redis (the caller's claim; metadata an earlier outage's copy-back left
saying "whole") and half from memory (no metadata, no turns), a read passed a
conversation as one memory held whole, with none of its turns: a crisis stated
in them never reached the shield, and the write after it marked memory's copy
whole."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from novaos.conversations import ConversationHistory, conversation_key_group
from novaos.errors import HistoryUnavailableError, StorageUnavailableError
from novaos.ports import OpenedTurn
from novaos.storage import FailoverStore, MemoryStore, RedisClusterStore
from tests.fixtures.common import await_until
from tests.fixtures.redis_server import RedisClusterNodes

CRISIS = (("user", "I have decided to end my life tonight"), ("assistant", "I'm here with you."))


class _FailsMidRead(RedisClusterStore):
    """Redis goes away just before the op the test names (its connection drops):
    the ops of the batch before it were answered by Redis."""

    fail_at: tuple[str, int] | None = None  # ("meta" | "turns", the n-th such read from now)
    failed = 0

    def _fails(self, kind: str) -> None:
        if self.fail_at is None or self.fail_at[0] != kind:
            return
        if self.fail_at[1] > 1:
            self.fail_at = (kind, self.fail_at[1] - 1)
            return
        self.fail_at, self.failed = None, self.failed + 1
        raise StorageUnavailableError("redis_cluster unavailable: ConnectionError")

    async def get(self, key: str) -> bytes | None:
        if key.endswith(":meta"):
            self._fails("meta")
        return await super().get(key)

    async def list_range(self, key: str, start: int = 0, end: int = -1) -> list[bytes]:
        self._fails("turns")
        return await super().list_range(key, start, end)


@dataclass
class Outage:
    store: FailoverStore
    primary: _FailsMidRead
    history: ConversationHistory


@pytest.fixture
async def outage(redis_cluster: RedisClusterNodes) -> AsyncIterator[Outage]:
    primary = _FailsMidRead.from_nodes(redis_cluster.addresses, pool_size=2, timeout_s=2)
    store = FailoverStore(
        primary,
        fallback=MemoryStore(eviction_group=conversation_key_group),
        min_backoff_s=0.05,
        max_backoff_s=0.2,
        replay=lambda key: conversation_key_group(key) is not None,
    )
    history = ConversationHistory(store, max_turns=20, ttl_s=3600, fallback=store)
    try:
        await store.connect()
        yield Outage(store, primary, history)
    finally:
        await store.aclose()


async def _back(store: FailoverStore) -> bool:
    return store.primary_available and store.journal_size == 0


async def _begun_in_an_earlier_outage(o: Outage, owner: str) -> tuple[str, str]:
    """Two conversations begun during an outage (ids the server made), copied back
    to Redis with their metadata saying "whole", as the copy-back leaves them."""
    ids = (f"{owner}-1", f"{owner}-2")  # a claim is per id: one test's are not another's
    o.store.primary_failed()
    for conversation_id in ids:
        await o.history.append_turns(owner, conversation_id, CRISIS, opened=OpenedTurn.fresh())
    await await_until(lambda: _back(o.store), timeout_s=10, what="the copy back to Redis")
    meta = await o.primary.get(f"nova:conv:{{{owner}}}:{ids[0]}:meta")
    assert b'"whole": true' in (meta or b"")
    return ids


def _reads(o: Outage, owner: str, at: str) -> dict[str, Callable[[], Awaitable[object]]]:
    return {
        "open_turn": lambda: o.history.open_turn(owner, at),
        "get": lambda: o.history.get(owner, at),
        "delete": lambda: o.history.delete(owner, at),
    }


@pytest.mark.parametrize(
    ("call", "fails"),
    [
        ("open_turn", "meta"),  # the claim from Redis, metadata and turns from memory
        ("open_turn", "turns"),  # claim and "whole" metadata from Redis, no turns
        ("get", "turns"),
        ("delete", "meta"),  # was NOT_FOUND: memory has no metadata, Redis may
    ],
)
async def test_a_read_redis_fails_part_way_through_is_refused(
    outage: Outage, call: str, fails: str
) -> None:
    owner = f"ann-{call}-{fails}".replace("_", "-")
    first, _ = await _begun_in_an_earlier_outage(outage, owner)
    outage.primary.fail_at = (fails, 1)
    with pytest.raises(HistoryUnavailableError):
        await _reads(outage, owner, first)[call]()
    assert outage.primary.failed == 1  # the path this test is about was taken
    await await_until(lambda: _back(outage.store), timeout_s=10, what="Redis back")
    texts = [m.content for m in await outage.history.history(owner, first)]
    assert texts == [text for _, text in CRISIS]  # what the next try reads


async def test_a_listing_redis_fails_part_way_through_lists_what_memory_holds_whole(
    outage: Outage,
) -> None:
    owner = "ann-list"
    first, second = await _begun_in_an_earlier_outage(outage, owner)
    outage.primary.fail_at = ("meta", 2)  # the second's from Redis, then the first's from memory
    assert await outage.history.list(owner) == ()  # as Get: memory holds neither
    assert outage.primary.failed == 1
    await await_until(lambda: _back(outage.store), timeout_s=10, what="Redis back")
    assert [s.conversation_id for s in await outage.history.list(owner)] == [second, first]
