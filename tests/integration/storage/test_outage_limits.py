"""While Redis is away, one process's limits still count what it is running."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from novaos.domain import Tier
from novaos.errors import RateLimitedError
from novaos.limits import LimitSubject, TierLimits
from novaos.limits.failover import TAKE_BACK_TASK
from novaos.storage import FailoverLimiter, FailoverStore, RedisStore
from tests.fixtures.common import await_until, holds
from tests.fixtures.redis_server import RedisServer

TWO_AT_A_TIME = TierLimits(100, 10**6, 2)


def _failover(
    redis: RedisServer, *, lease_ttl_ms: int = 30_000
) -> tuple[FailoverStore, FailoverLimiter]:
    """A store and limiter on ``redis`` falling back to memory, two leases at a time."""
    primary = RedisStore.from_url(redis.url, pool_size=4, timeout_s=1)
    store = FailoverStore(primary, min_backoff_s=0.05, max_backoff_s=0.2)
    limiter = FailoverLimiter(
        store, primary, dict.fromkeys(Tier, TWO_AT_A_TIME), lease_ttl_ms=lease_ttl_ms
    )
    return store, limiter


async def test_the_fallback_counts_the_leases_redis_granted_this_process(
    private_redis: RedisServer,
) -> None:
    # Two streams admitted by Redis were running when it died: the memory fallback
    # started empty and admitted two more on the same process, four at a limit of 2.
    store, limiter = _failover(private_redis)
    who = LimitSubject("two-streams", Tier.FREE)
    try:
        await store.connect()
        async with AsyncExitStack() as first, AsyncExitStack() as second:
            await first.enter_async_context(limiter.hold(who, 1))
            await second.enter_async_context(limiter.hold(who, 1))
            private_redis.kill()
            with pytest.raises(RateLimitedError) as refused:
                async with limiter.hold(who, 1):
                    pass
            assert not store.primary_available, "refused by the memory fallback"
            assert refused.value.violation.limit == "concurrency"
            await first.aclose()  # one of them ends during the outage
            async with limiter.hold(who, 1):
                with pytest.raises(RateLimitedError):
                    async with limiter.hold(who, 1):
                        pass
        async with limiter.hold(who, 1), limiter.hold(who, 1):
            pass  # both ended: the whole limit again
        assert await limiter.backend.active_leases(who) == 0
    finally:
        await limiter.aclose()
        await store.aclose()


async def _refused(limiter: FailoverLimiter, who: LimitSubject) -> str:
    with pytest.raises(RateLimitedError) as refused:
        async with limiter.hold(who, 1):
            pass
    return refused.value.violation.limit


async def _two_running_then_redis_back_empty(
    redis: RedisServer,
    store: FailoverStore,
    limiter: FailoverLimiter,
    who: LimitSubject,
    granted_by: str,
    running: AsyncExitStack,
) -> None:
    """Two leases of a limit of 2 held in ``running``, granted by Redis before an
    outage or by memory during it; then Redis starts again, empty."""
    if granted_by == "memory":
        redis.kill()  # the first admission finds it gone: both from memory
    for _ in range(2):
        await running.enter_async_context(limiter.hold(who, 1))
    if granted_by == "redis":
        redis.kill()
        assert await _refused(limiter, who) == "concurrency"  # noticed: on memory
    assert not store.primary_available
    redis.start()  # empty: it knows none of the two


@pytest.mark.parametrize("granted_by", ["redis", "memory"])
async def test_back_on_redis_the_leases_still_running_count_at_once(
    private_redis: RedisServer, granted_by: str
) -> None:
    # Redis came back empty (restarted) while two leases of a limit of 2 ran here,
    # granted by Redis before the outage or by memory during it: Redis admitted
    # two more beside them until the leases' next refresh (LEASE_TTL_MS / 3).
    store, limiter = _failover(private_redis)
    who = LimitSubject(f"granted-by-{granted_by}", Tier.FREE)
    try:
        await store.connect()
        async with AsyncExitStack() as running:
            await _two_running_then_redis_back_empty(
                private_redis, store, limiter, who, granted_by, running
            )
            await await_until(lambda: holds(store.primary_available), what="back on Redis")
            assert await _refused(limiter, who) == "concurrency"
            assert await limiter.backend.active_leases(who) == 2  # as Redis counts them
        async with limiter.hold(who, 1), limiter.hold(who, 1):
            pass  # both ended: the whole limit again
    finally:
        await limiter.aclose()
        await store.aclose()


@pytest.mark.parametrize("granted_by", ["redis", "memory"])
async def test_back_on_redis_another_replica_sees_the_running_leases_at_once(
    private_redis: RedisServer, granted_by: str
) -> None:
    # The registration waited for this process's next admission: a replica that
    # admitted nothing kept its leases unknown to Redis until their next refresh
    # (LEASE_TTL_MS / 3, 20 s here), and the other replicas admitted a full limit.
    store, limiter = _failover(private_redis, lease_ttl_ms=60_000)
    other_store, other = _failover(private_redis)
    who = LimitSubject(f"other-replica-{granted_by}", Tier.FREE)
    try:
        await store.connect()
        async with AsyncExitStack() as running:
            await _two_running_then_redis_back_empty(
                private_redis, store, limiter, who, granted_by, running
            )
            await other_store.connect()
            await await_until(
                lambda: _counted(other, who, 2), what="the two leases counted in Redis"
            )
            assert await _refused(other, who) == "concurrency"
        await await_until(lambda: _counted(other, who, 0), what="both released in Redis")
    finally:
        for closing in (limiter, store, other, other_store):
            await closing.aclose()


async def _counted(limiter: FailoverLimiter, who: LimitSubject, leases: int) -> bool:
    return await limiter.backend.active_leases(who) == leases


async def test_redis_gone_again_while_catching_up_takes_nothing_back(
    private_redis: RedisServer,
) -> None:
    # Registering the running leases after a comeback failed (Redis gone again):
    # the admission waiting on it was never sent to Redis, yet it was "taken back"
    # there, a release retried for up to the lease TTL.
    store, limiter = _failover(private_redis)
    who = LimitSubject("gone-again", Tier.FREE)
    store.on_recovery(private_redis.kill)  # gone again before the registration runs
    try:
        await store.connect()
        async with limiter.hold(who, 1):
            private_redis.kill()
            async with limiter.hold(who, 1):  # finds it gone: memory, and a take-back
                pass
            private_redis.start()
            await await_until(lambda: holds(store.recoveries == 1), what="the comeback")
            earlier = set(_taking_back())
            async with limiter.hold(who, 1):
                assert not store.primary_available, "served from memory"
                assert set(_taking_back()) <= earlier, "a take-back of an admission never sent"
    finally:
        await limiter.aclose()
        await store.aclose()


async def test_shutdown_stops_taking_back_admissions_redis_did_not_answer(
    private_redis: RedisServer,
) -> None:
    # The admission that found Redis gone is taken back there in the background,
    # until its lease's TTL; after shutdown that task went on calling Redis.
    store, limiter = _failover(private_redis)
    await store.connect()
    private_redis.kill()
    async with limiter.hold(LimitSubject("at-the-outage", Tier.FREE), 1):
        assert _taking_back(), "Redis admission failed: taken back in the background"
    await limiter.aclose()
    await store.aclose()
    assert not _taking_back()


def _taking_back() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == TAKE_BACK_TASK and not t.done()]
