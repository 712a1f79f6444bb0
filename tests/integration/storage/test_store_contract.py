"""One contract, three stores: memory, Redis and Redis Cluster behave alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from novaos.ports import (
    ExpireOp,
    GetOp,
    KeyValueStore,
    LenOp,
    PushOp,
    RangeOp,
    RankOp,
    SetOp,
    StoreOp,
    TopOp,
    UnrankOp,
)
from novaos.storage import MemoryStore, RedisClusterStore, RedisStore
from novaos.storage.redis_store import pushed_ids_key
from tests.fixtures.redis_server import RedisClusterNodes


@pytest.fixture(params=["memory", "redis", "redis_cluster"])
async def store(
    request: pytest.FixtureRequest, redis_url: str, redis_cluster: RedisClusterNodes
) -> AsyncIterator[KeyValueStore]:
    kv: KeyValueStore
    if request.param == "memory":
        kv = MemoryStore()
    elif request.param == "redis":
        kv = RedisStore.from_url(redis_url, pool_size=4, timeout_s=2)
    else:
        kv = RedisClusterStore.from_nodes(redis_cluster.addresses, pool_size=4, timeout_s=2)
    try:
        yield kv
    finally:
        await kv.aclose()


def _key(name: str) -> str:
    return f"test:{{{uuid.uuid4().hex}}}:{name}"


async def test_set_get_nx_delete(store: KeyValueStore) -> None:
    key = _key("s")
    assert await store.get(key) is None
    assert await store.set(key, b"one")
    assert not await store.set(key, b"two", nx=True)
    assert await store.get(key) == b"one"
    assert await store.set(key, b"three")
    assert await store.get(key) == b"three"
    assert await store.delete(key, _key("absent")) == 1
    assert await store.get(key) is None


async def test_incr_sets_ttl_only_on_create(store: KeyValueStore) -> None:
    key = _key("n")
    assert await store.incr(key, ttl_ms=60_000) == 1
    assert await store.incr(key, 5, ttl_ms=60_000) == 6
    assert await store.get(key) == b"6"


async def test_ttl_expires_keys(store: KeyValueStore) -> None:
    key, counter = _key("t"), _key("c")
    await store.set(key, b"x", ttl_ms=50)
    await store.incr(counter, ttl_ms=50)
    from tests.fixtures.common import await_until

    async def gone() -> bool:
        return await store.get(key) is None and await store.get(counter) is None

    await await_until(gone, timeout_s=5, what="keys with a 50 ms TTL to expire")


async def test_list_push_keeps_newest_and_ranges(store: KeyValueStore) -> None:
    key = _key("l")
    for i in range(7):
        await store.list_push(key, str(i).encode(), max_len=5, ttl_ms=60_000)
    assert await store.list_range(key) == [b"2", b"3", b"4", b"5", b"6"]
    assert await store.list_range(key, 1, 2) == [b"3", b"4"]
    assert await store.list_range(key, -2, -1) == [b"5", b"6"]
    assert await store.list_range(_key("none")) == []


async def test_a_push_with_an_op_id_is_applied_once_however_often_it_is_sent(
    store: KeyValueStore,
) -> None:
    # What a write sent again after a lost reply looks like to the store: the
    # same op ids once more, alone or in a batch.
    key = _key("once")
    await store.list_push(key, b"q", max_len=3, ttl_ms=60_000, op_id="w1.0")
    ops = [PushOp(key, (v,), 3, 60_000, op_id=f"w1.{i}") for i, v in enumerate((b"q", b"a"))]
    assert await store.batch(ops) == [None, None]
    assert await store.batch(ops) == [None, None]
    await store.list_push(key, b"a", max_len=3, ttl_ms=60_000, op_id="w1.1")
    assert await store.list_range(key) == [b"q", b"a"]
    await store.list_push(key, b"q", max_len=3, ttl_ms=60_000)  # no id: always applied
    await store.list_push(key, b"x", max_len=3, ttl_ms=60_000, op_id="w2.0")
    assert await store.list_range(key) == [b"a", b"q", b"x"]


async def test_a_push_of_several_values_appends_them_together_once(
    store: KeyValueStore,
) -> None:
    # A conversation's question and answer are one push: in order, adjacent, and
    # with an op id all of them once, alone or in a batch, however often sent.
    key = _key("pair")
    await store.list_push(key, b"q1", b"a1", max_len=5, ttl_ms=60_000, op_id="w1")
    await store.list_push(key, b"q1", b"a1", max_len=5, ttl_ms=60_000, op_id="w1")
    pair = PushOp(key, (b"q2", b"a2"), 5, 60_000, op_id="w2")
    assert await store.batch([pair, RangeOp(key)]) == [None, [b"q1", b"a1", b"q2", b"a2"]]
    assert await store.batch([pair, LenOp(key)]) == [None, 4]
    # Without an id, always applied; then the newest max_len are kept, whole or cut.
    await store.batch([PushOp(key, (b"q3", b"a3"), 5, 60_000)])
    assert await store.list_range(key) == [b"a1", b"q2", b"a2", b"q3", b"a3"]
    await store.list_push(key, b"x", b"y", b"z", max_len=2, ttl_ms=60_000, op_id="w3")
    assert await store.list_range(key) == [b"y", b"z"]
    with pytest.raises(ValueError, match="needs a value"):
        await store.list_push(key, max_len=5, ttl_ms=60_000, op_id="w4")
    with pytest.raises(ValueError, match="needs a value"):
        PushOp(key, (), 5)
    assert await store.list_range(key) == [b"y", b"z"]


async def test_concurrent_pushes_of_several_values_never_interleave(
    store: KeyValueStore,
) -> None:
    # In batches with another op, as a conversation's write is: on a cluster a
    # batch runs op by op, yet each push's values still land together.
    key, other = _key("busy"), _key("other")

    async def exchange(n: int) -> None:
        question, answer = f"q{n}".encode(), f"a{n}".encode()
        await store.batch(
            [PushOp(key, (question, answer), 1000, 60_000, op_id=f"w{n}"), SetOp(other, b"x")]
        )

    await asyncio.gather(*(exchange(n) for n in range(100)))
    stored = await store.list_range(key)
    assert len(stored) == 200
    assert all(a == b"a" + q[1:] for q, a in zip(stored[::2], stored[1::2], strict=True))


async def test_a_deleted_list_takes_its_push_ids_with_it(store: KeyValueStore) -> None:
    key = _key("gone")
    await store.list_push(key, b"q", max_len=3, ttl_ms=60_000, op_id="w1.0")
    assert await store.delete(key) == 1  # the list's own count, not its companions'
    await store.list_push(key, b"q", max_len=3, ttl_ms=60_000, op_id="w1.0")
    assert await store.list_range(key) == [b"q"]  # a fresh list: no ids remembered
    if isinstance(store, RedisStore):  # and nothing else of it is left in Redis
        await store.delete(key)
        assert await store.client.exists(pushed_ids_key(key)) == 0


async def test_expire_sets_a_new_ttl_and_keeps_the_value(store: KeyValueStore) -> None:
    key, absent = _key("e"), _key("none")
    await store.set(key, b"owner")
    assert await store.expire(key, 50)
    assert not await store.expire(absent, 50)
    assert await store.get(key) == b"owner"
    assert await store.batch([ExpireOp(key, 60_000), ExpireOp(absent, 10)]) == [True, False]
    assert await store.expire(key, 50)
    from tests.fixtures.common import await_until

    async def gone() -> bool:
        return await store.get(key) is None

    await await_until(gone, timeout_s=5, what="a key given a 50 ms TTL to expire")


async def test_health_reports_ok(store: KeyValueStore) -> None:
    health = await store.health()
    assert health.status == "ok"
    assert health.backend == store.backend


async def test_batch_runs_ops_in_order_with_their_single_call_results(
    store: KeyValueStore,
) -> None:
    key, items, absent = _key("b"), _key("bl"), _key("none")
    ops: list[StoreOp] = [
        SetOp(key, b"1", ttl_ms=60_000),
        SetOp(key, b"2", nx=True),  # sees the first op's write
        GetOp(key),
        *(PushOp(items, (v,), max_len=2, ttl_ms=60_000) for v in (b"a", b"b", b"c")),
        RangeOp(items),
        RangeOp(items, -1, -1),
        LenOp(items),
        GetOp(absent),
        RangeOp(absent),
        LenOp(absent),
    ]
    assert await store.batch(ops) == [
        True, False, b"1", None, None, None, [b"b", b"c"], [b"c"], 2, None, [], 0,
    ]  # fmt: skip
    assert await store.batch([]) == []
    assert await store.list_range(items) == [b"b", b"c"]


async def test_batch_ttls_expire_like_single_calls(store: KeyValueStore) -> None:
    key, items = _key("bt"), _key("btl")
    await store.batch([SetOp(key, b"x", ttl_ms=50), PushOp(items, (b"y",), max_len=5, ttl_ms=50)])
    from tests.fixtures.common import await_until

    async def gone() -> bool:
        return await store.get(key) is None and await store.list_len(items) == 0

    await await_until(gone, timeout_s=5, what="batch writes with a 50 ms TTL to expire")


async def test_a_ranked_set_reads_highest_first_and_keeps_the_highest(
    store: KeyValueStore,
) -> None:
    key = _key("r")
    for member, score in ((b"a", 10), (b"b", 30), (b"c", 20), (b"d", 20), (b"e", 5)):
        await store.ranked_add(key, member, score, max_len=4, ttl_ms=60_000)
    # e (the lowest) was trimmed; equal scores: greatest member first (ZREVRANGE)
    assert await store.ranked_top(key, 10) == [b"b", b"d", b"c", b"a"]
    assert await store.ranked_top(key, 2) == [b"b", b"d"]
    assert await store.ranked_top(key, 10, min_score=20) == [b"b", b"d", b"c"]
    assert await store.ranked_top(key, 0) == []
    await store.ranked_add(key, b"a", 40, max_len=4, ttl_ms=60_000)  # raised: to the top
    await store.ranked_add(key, b"b", 1, max_len=4, ttl_ms=60_000)  # never lowered
    assert await store.ranked_top(key, 10) == [b"a", b"b", b"d", b"c"]
    await store.ranked_add(key, b"f", 50, max_len=2, ttl_ms=60_000)  # a smaller cap trims
    assert await store.ranked_top(key, 10) == [b"f", b"a"]
    assert await store.ranked_remove(key, b"a", b"zz") == 1
    assert await store.ranked_remove(key) == 0
    assert await store.ranked_top(key, 10) == [b"f"]
    assert await store.ranked_remove(key, b"f") == 1
    assert await store.ranked_top(key, 10) == []
    assert await store.ranked_top(_key("none"), 10) == []
    assert await store.ranked_remove(_key("none"), b"x") == 0


async def test_ranked_ops_in_a_batch_give_their_single_call_results(
    store: KeyValueStore,
) -> None:
    key, absent = _key("rb"), _key("none")
    ops: list[StoreOp] = [
        RankOp(key, b"x", 1_700_000_000_000, max_len=2, ttl_ms=60_000),
        RankOp(key, b"y", 1_700_000_000_001, max_len=2, ttl_ms=60_000),
        RankOp(key, b"z", 1_700_000_000_002, max_len=2),  # x is trimmed
        RankOp(key, b"z", 5, max_len=2),  # lower: ignored
        TopOp(key, 5),
        TopOp(key, 5, min_score=1_700_000_000_002),
        UnrankOp(key, (b"y", b"x")),
        UnrankOp(key, ()),
        TopOp(key, 5),
        TopOp(absent, 5),
        TopOp(key, 0),
        GetOp(absent),  # replies after an op that sends nothing still line up
    ]
    assert await store.batch(ops) == [
        None, None, None, None, [b"z", b"y"], [b"z"], 1, 0, [b"z"], [], [], None,
    ]  # fmt: skip


async def test_a_ranked_set_expires_with_its_ttl(store: KeyValueStore) -> None:
    single, batched = _key("rt"), _key("rbt")
    await store.ranked_add(single, b"m", 1, max_len=5, ttl_ms=50)
    await store.batch([RankOp(batched, b"m", 1, max_len=5, ttl_ms=50)])
    from tests.fixtures.common import await_until

    async def gone() -> bool:
        return not await store.ranked_top(single, 5) and not await store.ranked_top(batched, 5)

    await await_until(gone, timeout_s=5, what="ranked sets with a 50 ms TTL to expire")
