"""RedisLimiter under one event loop: bursts of tasks, and cancels at random points."""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from annotated_types import Le

from novaos.config import Settings
from novaos.domain import Tier
from novaos.errors import RateLimitedError
from novaos.limits import LimitSubject, TierLimits
from novaos.limits.model import limit_keys
from novaos.storage import RedisLimiter, RedisStore
from novaos.storage.redis_admission import RedisAdmission
from tests.fixtures.common import await_until
from tests.fixtures.redis_server import RedisServer


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    kv = RedisStore.from_url(redis_url, pool_size=10, timeout_s=5)
    try:
        yield kv
    finally:
        await kv.aclose()


def limiter_for(store: RedisStore, limits: TierLimits) -> RedisLimiter:
    return RedisLimiter(store, dict.fromkeys(Tier, limits), lease_ttl_ms=30_000)


async def burst(limiter: RedisLimiter, subject: LimitSubject, n: int, tokens: int) -> list[bool]:
    async def one() -> bool:
        try:
            async with limiter.hold(subject, tokens):
                await asyncio.sleep(0)
                return True
        except RateLimitedError:
            return False

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def test_task_burst_admits_exactly_the_request_limit(store: RedisStore) -> None:
    limiter = limiter_for(store, TierLimits(300, 10**9, 10**6))
    admitted = sum(await burst(limiter, LimitSubject("tasks-req", Tier.ENTERPRISE), 900, 1))
    assert admitted <= 300 * 1.01
    assert admitted == 300
    await limiter.aclose()


async def test_task_burst_admits_exactly_the_token_budget(store: RedisStore) -> None:
    limiter = limiter_for(store, TierLimits(10**6, 100_000, 10**6))
    results = await burst(limiter, LimitSubject("tasks-tok", Tier.PRO), 600, 333)
    assert sum(results) * 333 <= 100_000
    assert sum(results) == 100_000 // 333
    await limiter.aclose()


async def test_ten_thousand_random_cancels_leave_no_lease_in_redis(
    store: RedisStore, redis_url: str
) -> None:
    limiter = limiter_for(store, TierLimits(10**6, 10**9, 10**6))
    rng = random.Random(11)
    subjects = [LimitSubject(f"cancel-{i}", Tier.ENTERPRISE) for i in range(4)]
    outcomes = {"completed": 0, "cancelled": 0}

    async def request(subject: LimitSubject) -> None:
        async with limiter.hold(subject, 10) as lease:
            for _ in range(rng.randint(0, 4)):
                await asyncio.sleep(0)
            lease.settle(5)

    for _ in range(20):  # 20 waves x 500 = 10,000 holds
        tasks = [asyncio.create_task(request(rng.choice(subjects))) for _ in range(500)]
        for _ in range(rng.randint(1, 30)):  # cancel while admitting, holding and releasing
            await asyncio.sleep(0)
            for task in rng.sample(tasks, 25):
                task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            outcomes[
                "cancelled" if isinstance(result, asyncio.CancelledError) else "completed"
            ] += 1
    await limiter.aclose()
    assert outcomes["cancelled"] > 1000 and outcomes["completed"] > 1000, outcomes
    client = aioredis.Redis.from_url(redis_url)
    try:
        charged = [await client.zcard(limit_keys(s)[0]) for s in subjects]
        assert sum(charged) >= outcomes["completed"]  # admissions really happened
        assert [await client.zcard(limit_keys(s)[3]) for s in subjects] == [0] * len(subjects)
    finally:
        await client.aclose()


async def test_a_release_redis_stalled_on_is_retried_not_left_to_the_ttl(
    tmp_path: Path,
) -> None:
    """Redis paused (SIGSTOP) while a request ends: its release times out. It was
    left to the 30 s TTL, so a concurrency limit of 1 refused the user that long."""
    server = RedisServer(tmp_path / "redis").start()
    store = RedisStore.from_url(server.url, pool_size=4, timeout_s=0.3)
    limiter = limiter_for(store, TierLimits(10**6, 10**9, 1))
    subject = LimitSubject("stalled", Tier.FREE)
    counter = RedisAdmission(store)
    assert server.proc is not None
    try:
        async with limiter.hold(subject, 1):
            server.proc.send_signal(signal.SIGSTOP)
        # the request returned (its release timed out); the retry keeps going
        server.proc.send_signal(signal.SIGCONT)
        await await_until(lambda: _no_leases(counter, subject), timeout_s=10, what="lease released")
        async with limiter.hold(subject, 1):
            pass
        await limiter.aclose()
    finally:
        server.proc.send_signal(signal.SIGCONT)
        await store.aclose()
        server.kill()


async def _no_leases(counter: RedisAdmission, subject: LimitSubject) -> bool:
    return await counter.active_leases(subject) == 0


async def test_usage_above_the_reservation_is_charged_in_redis(store: RedisStore) -> None:
    limiter = limiter_for(store, TierLimits(10**6, 10_000, 10**6))
    subject = LimitSubject("over-estimate", Tier.PRO)
    async with limiter.hold(subject, 100) as lease:
        lease.settle(6_000)  # the provider counted far more than was estimated
    refused = False
    try:
        async with limiter.hold(subject, 4_001):
            pass
    except RateLimitedError:
        refused = True
    assert refused, "the 6,000 really used must count against the 10,000"
    async with limiter.hold(subject, 4_000):
        pass
    await limiter.aclose()


async def test_shutdown_does_not_wait_for_releases_a_stalled_redis_owes(tmp_path: Path) -> None:
    # Every release the stalled Redis did not answer was retried by a task of its
    # own, and shutdown waited for each to try once more, two at a time (the pool):
    # 20 of them took 20 x 0.3 s / 2 = 3 s, 400 would take a minute.
    server = RedisServer(tmp_path / "redis").start()
    store = RedisStore.from_url(server.url, pool_size=2, timeout_s=0.3)
    limiter = limiter_for(store, TierLimits(10**6, 10**9, 10**6))
    assert server.proc is not None
    try:
        holds = [limiter.hold(LimitSubject(f"stalled-{i}", Tier.PRO), 1) for i in range(20)]
        for hold in holds:
            await hold.__aenter__()
        server.proc.send_signal(signal.SIGSTOP)
        # each release times out (the requests end; their releases are owed)
        await asyncio.gather(*(hold.__aexit__(None, None, None) for hold in holds))
        # Still stalled: shutdown must not queue another attempt per owed release.
        await asyncio.wait_for(limiter.aclose(), timeout=2)
    finally:
        server.proc.send_signal(signal.SIGCONT)
        await store.aclose()
        server.kill()


def _upper_bound(name: str) -> int:
    (le,) = [m.le for m in Settings.model_fields[name].metadata if isinstance(m, Le)]
    return int(le)


async def test_a_release_at_the_largest_timeout_and_lease_redis_takes(redis_url: str) -> None:
    # REDIS_COMMAND_TIMEOUT_MS becomes part of the release's expiry: at 1e23 Redis
    # refused it ("value is not an integer or out of range") and every chat failed.
    timeout_s = _upper_bound("redis_command_timeout_ms") / 1000
    kv = RedisStore.from_url(redis_url, pool_size=2, timeout_s=timeout_s)
    limiter = RedisLimiter(
        kv,
        dict.fromkeys(Tier, TierLimits(10, 10**6, 10)),
        lease_ttl_ms=_upper_bound("lease_ttl_ms"),
    )
    subject = LimitSubject("largest-bounds", Tier.PRO)
    try:
        for _ in range(2):  # the second finds the first's slot released
            async with limiter.hold(subject, 10) as lease:
                lease.settle(5)
    finally:
        await limiter.aclose()
        await kv.aclose()
