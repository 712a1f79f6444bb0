"""Redis dies while requests flow: nothing fails, memory serves, Redis comes back."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from novaos.domain import Tier
from novaos.errors import RateLimitedError, RateLimitHeaders, StorageUnavailableError
from novaos.limits import LimitSubject, MemoryAdmission, TierLimits
from novaos.limits.failover import FailoverAdmission
from novaos.limits.model import AdmitRequest, AdmitResult, LeaseGrant, limit_keys
from novaos.storage import (
    FALLBACK_MESSAGE,
    FailoverLimiter,
    FailoverStore,
    RedisAdmission,
    RedisStore,
)
from tests.fixtures.common import await_until, free_port, holds, wait_until
from tests.fixtures.redis_server import RedisServer

HIGH = TierLimits(10**6, 10**9, 10**6)


class GaugeObserver:
    def __init__(self) -> None:
        self.states: list[bool] = []

    def fallback_active(self, active: bool) -> None:
        self.states.append(active)


def failover_stack(
    url: str, limits: TierLimits, observer: GaugeObserver | None = None
) -> tuple[FailoverStore, FailoverLimiter]:
    primary = RedisStore.from_url(url, pool_size=10, timeout_s=1)
    store = FailoverStore(primary, min_backoff_s=0.05, max_backoff_s=0.5, observer=observer)
    limiter = FailoverLimiter(store, primary, dict.fromkeys(Tier, limits), lease_ttl_ms=5000)
    return store, limiter


@dataclass
class Traffic:
    ok: int = 0
    failures: list[BaseException] = field(default_factory=list)


@asynccontextmanager
async def traffic(store: FailoverStore, limiter: FailoverLimiter) -> AsyncIterator[Traffic]:
    """Eight clients in a loop: a lease, a counter bump and a history write each."""
    stats, stop = Traffic(), asyncio.Event()

    async def client(i: int) -> None:
        subject = LimitSubject(f"flow-{i}", Tier.PRO)
        while not stop.is_set():
            try:
                async with limiter.hold(subject, 10) as lease:
                    await store.incr(f"flow:{{{i}}}:n", ttl_ms=60_000)
                    await store.list_push(f"flow:{{{i}}}:l", b"t", max_len=5, ttl_ms=60_000)
                    lease.settle(5)
                stats.ok += 1
            except Exception as exc:
                stats.failures.append(exc)
            await asyncio.sleep(0.001)

    async with asyncio.TaskGroup() as group:
        for i in range(8):
            group.create_task(client(i))
        try:
            yield stats
        finally:
            stop.set()


async def test_redis_killed_and_restarted_under_traffic(
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="novaos.storage")
    gauge = GaugeObserver()
    store, limiter = failover_stack(private_redis.url, HIGH, gauge)
    await store.connect()
    assert (await store.health()).status == "ok"
    async with traffic(store, limiter) as stats:
        await await_until(lambda: _at_least(stats, 200), what="traffic on Redis")
        private_redis.kill()
        await await_until(lambda: _fallback(store), what="the switch to memory")
        assert (await store.health()).status == "fallback"
        served_before = stats.ok
        await await_until(lambda: _at_least(stats, served_before + 200), what="memory traffic")
        private_redis.start()  # same port, empty data
        await await_until(lambda: _primary(store), timeout_s=5, what="reconnect within 5 s")
        served_after = stats.ok
        await await_until(lambda: _at_least(stats, served_after + 200), what="Redis traffic")
    assert stats.failures == []
    assert (await store.health()).status == "ok"
    messages = [r.getMessage() for r in caplog.records if r.name == "novaos.storage"]
    assert messages.count(FALLBACK_MESSAGE) == 1
    assert gauge.states == [True, False]
    await limiter.aclose()
    await store.aclose()


async def test_limits_are_global_again_after_reconnect(private_redis: RedisServer) -> None:
    one, limiter_one = failover_stack(private_redis.url, TierLimits(50, 10**9, 10**6))
    two, limiter_two = failover_stack(private_redis.url, TierLimits(50, 10**9, 10**6))
    await one.connect()
    await two.connect()
    private_redis.kill()
    for store in (one, two):
        assert (await store.health()).status == "fallback"
    private_redis.start()
    for store in (one, two):
        await await_until(lambda s=store: _primary(s), timeout_s=5, what="reconnect")

    subject = LimitSubject("global-again", Tier.FREE)

    async def attempt(limiter: FailoverLimiter) -> bool:
        try:
            async with limiter.hold(subject, 1):
                return True
        except RateLimitedError:
            return False

    results = await asyncio.gather(*(attempt(lim) for lim in [limiter_one, limiter_two] * 60))
    assert sum(results) == 50  # one budget shared by both "processes", not 50 each
    for limiter, store in ((limiter_one, one), (limiter_two, two)):
        await limiter.aclose()
        await store.aclose()


async def test_unreachable_redis_at_start_serves_from_memory(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.fixtures.common import free_port

    caplog.set_level(logging.WARNING, logger="novaos.storage")
    store, limiter = failover_stack(f"redis://127.0.0.1:{free_port()}/0", TierLimits(3, 100, 2))
    await store.connect()
    assert FALLBACK_MESSAGE in caplog.messages
    assert (await store.health()).status == "fallback"
    assert await store.set("k", b"v")
    assert await store.get("k") == b"v"
    subject = LimitSubject("memory-only", Tier.FREE)
    for _ in range(3):
        async with limiter.hold(subject, 1):
            pass
    with pytest.raises(RateLimitedError):  # the same limits, per process, while Redis is away
        async with limiter.hold(subject, 1):
            pass
    await limiter.aclose()
    await store.aclose()


async def _at_least(stats: Traffic, n: int) -> bool:
    return stats.ok >= n or bool(stats.failures)


async def _fallback(store: FailoverStore) -> bool:
    return not store.primary_available


async def _primary(store: FailoverStore) -> bool:
    return store.primary_available


async def test_a_redis_that_refuses_the_replay_is_retried_until_it_takes_it(
    private_redis: RedisServer,
) -> None:
    # Back after an outage as a read-only replica (a managed failover under way):
    # it answers PING but refuses writes with READONLY, not a connection error. The
    # reconnect task must keep trying (neither copy the journal to it nor switch
    # back), or the process stays on memory for good.
    primary = RedisStore.from_url(private_redis.url, pool_size=4, timeout_s=1)
    store = FailoverStore(primary, min_backoff_s=0.05, max_backoff_s=0.2, replay=lambda _: True)
    try:
        await store.connect()
        private_redis.kill()
        await store.set("journalled", b"during the outage")
        assert not store.primary_available and store.journal_size == 1
        private_redis.start()
        private_redis.cli("REPLICAOF", "127.0.0.1", str(free_port()))  # a master that is gone
        private_redis.cli("CONFIG", "RESETSTAT")
        await await_until(
            lambda: holds(private_redis.rejected_calls("set") >= 3),
            what="probes refused by the replica",
        )
        assert not store.primary_available and store.journal_size == 1
        private_redis.cli("REPLICAOF", "NO", "ONE")
        await await_until(lambda: _primary(store), timeout_s=5, what="the switch back")
        assert store.journal_size == 0
        assert await primary.get("journalled") == b"during the outage"
    finally:
        await store.aclose()


async def test_an_admission_redis_ran_after_its_timeout_gives_its_lease_back(
    tmp_path: Path,
) -> None:
    # A busy Redis (here: DEBUG SLEEP) answers the admission script after the
    # command timeout: the request is served from memory, but the script still
    # runs, charging a lease in Redis. It must not hold a concurrency slot there
    # for the lease TTL (30 s) after the request is over.
    server = RedisServer(tmp_path / "redis", extra_args=("--enable-debug-command", "yes")).start()
    primary = RedisStore.from_url(server.url, pool_size=4, timeout_s=0.3)
    store = FailoverStore(primary, min_backoff_s=0.05, max_backoff_s=0.2)
    limiter = FailoverLimiter(store, primary, dict.fromkeys(Tier, HIGH), lease_ttl_ms=30_000)
    who = LimitSubject("busy-alice", Tier.FREE)
    requests_key, _, _, lease_key = limit_keys(who)
    try:
        await store.connect()
        async with limiter.hold(LimitSubject("warm-up", Tier.FREE), 1):
            pass  # the scripts are loaded, as in a server that has been running
        with socket.create_connection(("127.0.0.1", server.port)) as sleeper:
            sleeper.sendall(b"DEBUG SLEEP 1.5\r\n")
            wait_until(lambda: not server.answers_promptly(), timeout_s=5, what="Redis busy")
            async with limiter.hold(who, 10) as lease:
                lease.settle(5)
            assert not store.primary_available, "the admission should have timed out"
        await await_until(lambda: _primary(store), timeout_s=10, what="Redis answering again")
        assert server.cli("ZCARD", requests_key).strip() == "1", "the late script ran"
        await await_until(
            lambda: _no_lease(server, lease_key),
            timeout_s=5,
            what="the late lease taken back, well before its 30 s TTL",
        )
    finally:
        await limiter.aclose()
        await store.aclose()
        server.kill()


async def _no_lease(server: RedisServer, lease_key: str) -> bool:
    return server.cli("ZCARD", lease_key).strip() == "0"


async def test_a_lease_granted_during_an_outage_counts_in_redis_once_it_is_back(
    private_redis: RedisServer,
) -> None:
    # Granted from memory while Redis was down, the stream still ran when Redis came
    # back, but only memory knew it: another process admitted a second stream next to
    # it at a concurrency limit of 1.
    one_at_a_time = TierLimits(100, 10**6, 1)
    primary = RedisStore.from_url(private_redis.url, pool_size=4, timeout_s=1)
    store = FailoverStore(primary, min_backoff_s=0.05, max_backoff_s=0.2)
    limiter = FailoverLimiter(store, primary, dict.fromkeys(Tier, one_at_a_time), lease_ttl_ms=900)
    other, other_limiter = failover_stack(private_redis.url, one_at_a_time)
    who = LimitSubject("outage-stream", Tier.FREE)
    lease_key = limit_keys(who)[3]
    await store.connect()
    await other.connect()
    private_redis.kill()
    try:
        async with limiter.hold(who, 1):
            assert not store.primary_available  # granted by memory
            private_redis.start()
            await await_until(lambda: _primary(store), timeout_s=5, what="reconnect")
            await await_until(lambda: _primary(other), timeout_s=5, what="reconnect")
            await await_until(
                lambda: _lease_count(private_redis, lease_key, 1),
                timeout_s=5,
                what="the memory lease registered in Redis by its refresh",
            )
            with pytest.raises(RateLimitedError):
                async with other_limiter.hold(who, 1):
                    pass
        assert await _lease_count(private_redis, lease_key, 0), "released in Redis too"
    finally:
        for lim, st in ((limiter, store), (other_limiter, other)):
            await lim.aclose()
            await st.aclose()


async def _lease_count(server: RedisServer, lease_key: str, count: int) -> bool:
    return server.cli("ZCARD", lease_key).strip() == str(count)


class _FirstAdmissionTimesOut:
    """Redis admission whose first call fails as a timed-out one does (the caller
    cannot know whether it ran); everything else is the real Redis backend."""

    def __init__(self, inner: RedisAdmission) -> None:
        self.inner, self.name, self.failed = inner, inner.name, False

    async def admit(self, request: AdmitRequest) -> LeaseGrant | AdmitResult:
        if not self.failed:
            self.failed = True
            raise StorageUnavailableError("redis unavailable: TimeoutError")
        return await self.inner.admit(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_the_request_that_noticed_the_outage_counts_in_redis_once_it_is_back(
    private_redis: RedisServer,
) -> None:
    # Served from memory after its admission timed out, the request's lease kept the
    # lease id whose timed-out admission was taken back in Redis: that release's
    # tombstone kept the running lease from ever being registered, and a second
    # request got past a concurrency limit of 1.
    primary = RedisStore.from_url(private_redis.url, pool_size=4, timeout_s=1)
    store = FailoverStore(primary, min_backoff_s=0.05, max_backoff_s=0.1)
    redis = RedisAdmission(primary)
    admission = FailoverAdmission(_FirstAdmissionTimesOut(redis), MemoryAdmission(), store)
    who, limits = LimitSubject("noticed-the-outage", Tier.FREE), TierLimits(100, 10**6, 1)
    lease_key = limit_keys(who)[3]
    try:
        await store.connect()
        running = await admission.admit(AdmitRequest(who, limits, "noticed", 1, 30_000))
        assert isinstance(running, LeaseGrant)
        await await_until(lambda: _primary(store), timeout_s=5, what="Redis answering")
        await await_until(
            lambda: _taken_back(private_redis, lease_key), timeout_s=5, what="the take-back"
        )
        assert await running.issuer.refresh(running)  # what the refresh loop does
        assert await _lease_count(private_redis, lease_key, 1)
        second = await admission.admit(AdmitRequest(who, limits, "second", 1, 30_000))
        assert not isinstance(second, LeaseGrant), "over the concurrency limit"
        await running.issuer.release(running, 1)
        assert await _lease_count(private_redis, lease_key, 0)
    finally:
        await store.aclose()


async def test_an_admission_taken_back_before_it_ran_charges_nothing(
    private_redis: RedisServer,
) -> None:
    # The take-back's release and the late admission run on two connections, in
    # either order: one that reached Redis first must stop the admission.
    primary = RedisStore.from_url(private_redis.url, pool_size=4, timeout_s=1)
    redis = RedisAdmission(primary)
    who, limits = LimitSubject("taken-back-first", Tier.FREE), TierLimits(100, 10**6, 1)
    request = AdmitRequest(who, limits, "late", 5, 30_000)
    try:
        await redis.release(LeaseGrant(request, _REFUSED, redis), 0)
        assert not isinstance(await redis.admit(request), LeaseGrant)
        requests_key, _, _, lease_key = limit_keys(who)
        assert private_redis.cli("ZCARD", requests_key).strip() == "0"
        assert await _lease_count(private_redis, lease_key, 0)
    finally:
        await primary.aclose()


_REFUSED = AdmitResult(False, "", 0, RateLimitHeaders(0, 0, 0))


async def _taken_back(server: RedisServer, lease_key: str) -> bool:
    return bool(server.cli("--scan", "--pattern", f"{lease_key}:released:*").split())


async def test_a_stalled_redis_costs_one_command_timeout_not_two(tmp_path: Path) -> None:
    # REDIS_COMMAND_TIMEOUT_MS is the time a command may take before Redis counts
    # as down. The one retry is for a pooled connection a restarted server
    # dropped; a command that timed out must not be sent again, or every request
    # in flight when Redis stalls waits twice that time before the fallback.
    server = RedisServer(tmp_path / "redis", extra_args=("--enable-debug-command", "yes")).start()
    timeout_s = 0.5
    store = RedisStore.from_url(server.url, pool_size=2, timeout_s=timeout_s)
    try:
        await store.get("warm-up")  # a pooled connection, as in a running server
        server.cli("CONFIG", "RESETSTAT")
        with socket.create_connection(("127.0.0.1", server.port)) as sleeper:
            sleeper.sendall(b"DEBUG SLEEP 1.5\r\n")
            wait_until(lambda: not server.answers_promptly(), timeout_s=5, what="Redis busy")
            started = time.monotonic()
            with pytest.raises(StorageUnavailableError):
                await store.get("stalled")
            waited = time.monotonic() - started
        # Two timeouts (the old retry) take at least 2 x timeout_s; one leaves slack.
        assert waited < 1.9 * timeout_s, f"waited {waited:.2f} s for a {timeout_s} s timeout"
        wait_until(server.answers_promptly, timeout_s=10, what="Redis answering again")
        stats = server.cli("INFO", "commandstats")
        assert "cmdstat_get:calls=1," in stats and "cmdstat_hello" not in stats, stats
    finally:
        await store.aclose()
        server.kill()
