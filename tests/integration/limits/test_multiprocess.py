"""Several OS processes (stand-in gateways) on one Redis: limits hold exactly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis

from novaos.domain import Tier
from novaos.limits import LimitSubject, TierLimits
from novaos.limits.model import limit_keys
from novaos.storage import RedisLimiter, RedisStore
from tests.fixtures.common import await_until

WORKER = Path(__file__).with_name("burst_worker.py")
ROOT = Path(__file__).resolve().parents[3]


@asynccontextmanager
async def workers(count: int, *args: str) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env, cwd=ROOT,
        )
        for _ in range(count)
    ]  # fmt: skip
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line.strip() == b"ready", line
        for proc in procs:  # every worker is connected: burst together
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
        for proc in procs:
            assert proc.stdin is not None
            await proc.stdin.drain()
        yield procs
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def report(proc: asyncio.subprocess.Process) -> dict[str, int]:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 90)
    return dict(json.loads(line))


async def test_three_processes_share_requests_per_minute(redis_url: str) -> None:
    limit = 100
    args = ("--url", redis_url, "--subject", "burst-req", "--n", "150", "--rpm", str(limit))
    async with workers(3, *args) as procs:
        counts = [await report(p) for p in procs]
    admitted = sum(c["admitted"] for c in counts)
    assert admitted <= limit * 1.01
    assert admitted == limit  # exact: the whole burst fits in one window
    assert sum(c["refused"] for c in counts) == 450 - limit


async def test_three_processes_share_tokens_per_minute(redis_url: str) -> None:
    budget, each = 10_000, 70
    args = ("--url", redis_url, "--subject", "burst-tok", "--n", "150")
    args += ("--tpm", str(budget), "--tokens", str(each))
    async with workers(3, *args) as procs:
        counts = [await report(p) for p in procs]
    tokens = sum(c["tokens"] for c in counts)
    assert tokens <= budget * 1.01
    assert tokens == (budget // each) * each


async def test_three_processes_share_concurrency(redis_url: str) -> None:
    args = ("--url", redis_url, "--subject", "burst-conc", "--n", "20", "--conc", "7")
    async with workers(3, *args, "--mode", "hold") as procs:
        counts = [await report(p) for p in procs]
        assert sum(c["admitted"] for c in counts) == 7
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"release\n")
            await proc.stdin.drain()
        for proc in procs:
            assert await proc.wait() == 0
    client = aioredis.Redis.from_url(redis_url)
    try:
        subject = LimitSubject("burst-conc", Tier.PRO)
        assert await client.zcard(limit_keys(subject)[3]) == 0
    finally:
        await client.aclose()


async def test_sigkilled_holder_leases_expire_within_ttl(redis_url: str) -> None:
    ttl_ms, conc = 1000, 5
    subject = LimitSubject(f"killed-{uuid.uuid4().hex[:8]}", Tier.PRO)
    args = ("--url", redis_url, "--subject", subject.key, "--n", "5", "--conc", str(conc))
    client = aioredis.Redis.from_url(redis_url)
    store = RedisStore.from_url(redis_url, pool_size=2, timeout_s=2)
    limits = {t: TierLimits(1000, 10**6, conc) for t in Tier}
    limiter = RedisLimiter(store, limits, lease_ttl_ms=ttl_ms)
    try:
        async with workers(1, *args, "--ttl-ms", str(ttl_ms), "--mode", "hold") as (proc,):
            assert (await report(proc))["admitted"] == conc
            proc.send_signal(signal.SIGKILL)
            assert await proc.wait() == -signal.SIGKILL
            seconds, micros = await client.time()
            killed_at_ms = seconds * 1000 + micros // 1000
        leases = await client.zrange(limit_keys(subject)[3], 0, -1, withscores=True)
        assert len(leases) == conc  # orphaned, not released
        assert max(score for _, score in leases) <= killed_at_ms + ttl_ms

        async def expired() -> bool:
            return await limiter.backend.active_leases(subject) == 0

        await await_until(expired, timeout_s=ttl_ms / 1000 + 5, what="orphaned leases to expire")
        async with limiter.hold(subject, 1), limiter.hold(subject, 1):
            pass  # the crashed process's slots are usable again
    finally:
        await limiter.aclose()
        await store.aclose()
        await client.aclose()
