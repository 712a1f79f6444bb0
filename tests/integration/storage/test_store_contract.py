"""One contract, three stores: memory, Redis and Redis Cluster behave alike."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from novaos.ports import KeyValueStore
from novaos.storage import MemoryStore, RedisClusterStore, RedisStore
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


async def test_health_reports_ok(store: KeyValueStore) -> None:
    health = await store.health()
    assert health.status == "ok"
    assert health.backend == store.backend
