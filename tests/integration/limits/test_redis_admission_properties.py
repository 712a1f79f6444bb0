"""The Redis script agrees with the naive model (simulated clock passed as ARGV)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings

from novaos.domain import Tier
from novaos.limits import LimitSubject
from novaos.storage import RedisAdmission, RedisStore
from tests.fixtures.admission_model import ops
from tests.unit.limits.test_admission_properties import run_against_model


@pytest.fixture(scope="module")
async def admission(redis_server: object) -> AsyncIterator[RedisAdmission]:
    from tests.fixtures.redis_server import RedisServer

    assert isinstance(redis_server, RedisServer)
    store = RedisStore.from_url(redis_server.url, pool_size=2, timeout_s=2)
    try:
        yield RedisAdmission(store)
    finally:
        await store.aclose()


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=ops)
async def test_redis_script_matches_model(
    admission: RedisAdmission, steps: list[tuple[object, ...]]
) -> None:
    subject = LimitSubject(f"user-{uuid.uuid4().hex}", Tier.PRO)
    await run_against_model(admission, subject, steps)


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_refresh_extends_a_live_lease_and_not_an_expired_one(
    admission: RedisAdmission, kind: str
) -> None:
    from novaos.limits import MemoryAdmission, TierLimits
    from novaos.limits.model import AdmitRequest, LeaseGrant

    backend = admission if kind == "redis" else MemoryAdmission()
    subject = LimitSubject(f"refresh-{uuid.uuid4().hex}", Tier.FREE)
    limits, ttl, t0 = TierLimits(10, 1000, 1), 1000, 1_800_000_000_000
    grant = await backend.admit(AdmitRequest(subject, limits, "lease-a", 1, ttl, now_ms=t0))
    assert isinstance(grant, LeaseGrant)
    assert await backend.refresh(grant, now_ms=t0 + 900)  # alive: pushed to t0 + 1900
    assert await backend.active_leases(subject, now_ms=t0 + 1500) == 1
    assert not await backend.refresh(grant, now_ms=t0 + 1950)  # expired: not revived
    assert await backend.active_leases(subject, now_ms=t0 + 1950) == 0
    second = await backend.admit(AdmitRequest(subject, limits, "lease-b", 1, ttl, now_ms=t0 + 1950))
    assert isinstance(second, LeaseGrant)  # the expired slot is free again


async def test_a_lease_redis_lost_is_registered_again_by_its_refresh(
    admission: RedisAdmission, redis_server: object
) -> None:
    # Redis restarted empty (or failed over to an empty replica) while a stream ran:
    # its lease was gone, refresh said "expired", and a limit of 1 admitted a second
    # stream next to the running one.
    from novaos.limits import TierLimits
    from novaos.limits.model import AdmitRequest, LeaseGrant, limit_keys
    from tests.fixtures.redis_server import RedisServer

    assert isinstance(redis_server, RedisServer)
    subject = LimitSubject(f"lost-{uuid.uuid4().hex}", Tier.FREE)
    limits = TierLimits(100, 10_000, 1)
    grant = await admission.admit(AdmitRequest(subject, limits, "running", 1, 30_000))
    assert isinstance(grant, LeaseGrant)
    redis_server.cli("del", *limit_keys(subject))  # what a restart without data does
    assert await admission.active_leases(subject) == 0
    assert await admission.refresh(grant)
    assert await admission.active_leases(subject) == 1
    refused = await admission.admit(AdmitRequest(subject, limits, "second", 1, 30_000))
    assert not isinstance(refused, LeaseGrant)


async def test_a_released_lease_is_not_revived_by_a_late_refresh(
    admission: RedisAdmission,
) -> None:
    from novaos.limits import TierLimits
    from novaos.limits.model import AdmitRequest, LeaseGrant

    subject = LimitSubject(f"late-{uuid.uuid4().hex}", Tier.FREE)
    grant = await admission.admit(AdmitRequest(subject, TierLimits(100, 10_000, 1), "x", 1, 30_000))
    assert isinstance(grant, LeaseGrant)
    await admission.release(grant, 1)
    assert not await admission.refresh(grant)  # a refresh queued behind the release
    assert await admission.active_leases(subject) == 0


async def test_a_reservation_of_no_tokens_leaving_the_window_is_no_error(
    admission: RedisAdmission,
) -> None:
    # The purge took -0 tokens off the total: Lua's -0 reached HINCRBY as "-0",
    # which Redis refuses, and every admission of that caller failed until its
    # keys expired (a cancelled request is released with 0 tokens).
    from novaos.limits import TierLimits
    from novaos.limits.model import AdmitRequest, LeaseGrant

    subject = LimitSubject(f"zero-{uuid.uuid4().hex}", Tier.FREE)
    limits, t0 = TierLimits(10, 1000, 5), 1_900_000_000_000
    for lease_id, tokens, at in (("none", 0, t0), ("some", 100, t0 + 30_000)):
        grant = await admission.admit(AdmitRequest(subject, limits, lease_id, tokens, 1, now_ms=at))
        assert isinstance(grant, LeaseGrant)
    later = await admission.admit(AdmitRequest(subject, limits, "later", 1, 1, now_ms=t0 + 60_001))
    assert isinstance(later, LeaseGrant)


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_usage_above_a_reservation_that_left_the_window_is_charged_from_now(
    admission: RedisAdmission, kind: str
) -> None:
    # A stream longer than the window ended after its reservation had aged out: the
    # release found nothing to reconcile and charged none of the usage, so a client
    # could use 5,000 tokens every minute against a limit of 3,000. What was reserved
    # counted for its minute; the rest is charged when the request ends.
    from novaos.limits import MemoryAdmission, TierLimits
    from novaos.limits.model import TOKENS, AdmitRequest, LeaseGrant
    from novaos.limits.tiers import WINDOW_MS

    backend = admission if kind == "redis" else MemoryAdmission()
    subject = LimitSubject(f"long-{uuid.uuid4().hex}", Tier.ENTERPRISE)
    limits, t0 = TierLimits(100, 3000, 5), 2_000_000_000_000

    def ask(lease_id: str, at: int) -> AdmitRequest:
        return AdmitRequest(subject, limits, lease_id, 1, 30_000, now_ms=at)

    long = await backend.admit(AdmitRequest(subject, limits, "long", 900, 30_000, now_ms=t0))
    assert isinstance(long, LeaseGrant)
    assert (await backend.top_up(long, 100, now_ms=t0 + 1)).admitted  # 1,000 reserved in all
    end = t0 + WINDOW_MS + 8_900  # no admission purged the reservation in between
    await backend.release(long, 5000, reserved_tokens=1000, now_ms=end)
    refused = await backend.admit(ask("next", end + 1))
    assert not isinstance(refused, LeaseGrant)
    assert refused.violation == TOKENS  # 4,000 charged from `end`: over the 3,000
    assert refused.retry_after_ms == WINDOW_MS - 1
    await backend.release(long, 5000, reserved_tokens=1000, now_ms=end + 2)  # a retry: no-op
    later = await backend.admit(ask("later", end + WINDOW_MS + 1))
    assert isinstance(later, LeaseGrant)
    assert later.result.headers.tokens is not None
    assert later.result.headers.tokens.remaining == 2999  # charged once, and aged out


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_release_sent_again_charges_once(admission: RedisAdmission, kind: str) -> None:
    from novaos.limits import MemoryAdmission, TierLimits
    from novaos.limits.model import AdmitRequest, LeaseGrant
    from novaos.limits.tiers import WINDOW_MS

    backend = admission if kind == "redis" else MemoryAdmission()
    subject = LimitSubject(f"again-{uuid.uuid4().hex}", Tier.PRO)
    limits, t0 = TierLimits(100, 10_000, 5), 2_100_000_000_000
    grant = await backend.admit(AdmitRequest(subject, limits, "x", 1000, 30_000, now_ms=t0))
    assert isinstance(grant, LeaseGrant)
    end = t0 + WINDOW_MS + 1
    for at in (end, end + 1, end + 2):  # the answer of the first was lost, say
        await backend.release(grant, 3000, reserved_tokens=1000, now_ms=at)
    after = await backend.admit(AdmitRequest(subject, limits, "y", 1, 30_000, now_ms=end + 3))
    assert isinstance(after, LeaseGrant)
    assert after.result.headers.tokens is not None
    assert after.result.headers.tokens.remaining == 10_000 - 2000 - 1


@pytest.mark.parametrize("kind", ["memory", "redis"])
@pytest.mark.parametrize(("used", "charged"), [(600, 600), (3000, 2000)])
async def test_a_release_sent_again_a_lease_ttl_later_charges_once(
    admission: RedisAdmission, kind: str, used: int, charged: int
) -> None:
    # The limiter sends a release again (one that ran, whose answer was lost) for up
    # to a lease TTL after it first did; the tombstone that stops a second run lived
    # a lease TTL from when the first ran. A late repeat cut a charge of 600 (1,000
    # reserved) to 200, or charged a stream longer than the window its 2,000 twice.
    import asyncio

    from novaos.limits import MemoryAdmission, TierLimits
    from novaos.limits.model import AdmitRequest, LeaseGrant
    from novaos.limits.tiers import WINDOW_MS

    backend = admission if kind == "redis" else MemoryAdmission()
    subject = LimitSubject(f"late-again-{uuid.uuid4().hex}", Tier.PRO)
    limits, t0, ttl = TierLimits(100, 10_000, 5), 2_200_000_000_000, 100
    grant = await backend.admit(AdmitRequest(subject, limits, "x", 1000, ttl, now_ms=t0))
    assert isinstance(grant, LeaseGrant)
    end = t0 + 10 if used < 1000 else t0 + WINDOW_MS + 1  # in the window, or past it
    await backend.release(grant, used, reserved_tokens=1000, now_ms=end)
    # Redis expires its keys by its own clock: the lease TTL must pass on it too.
    await asyncio.sleep(ttl / 1000 + 0.02)
    await backend.release(grant, used, reserved_tokens=1000, now_ms=end + ttl)
    after = await backend.admit(AdmitRequest(subject, limits, "y", 1, ttl, now_ms=end + ttl + 1))
    assert isinstance(after, LeaseGrant)
    assert after.result.headers.tokens is not None
    assert after.result.headers.tokens.remaining == 10_000 - charged - 1


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_top_up_whose_answer_was_lost_is_not_charged_again_by_the_release(
    admission: RedisAdmission, kind: str
) -> None:
    # The top-up ran, its answer was lost: the caller's count (1,000) misses it. A
    # stream longer than the window, released with that count, was charged its usage
    # beyond 1,000 from its end (2,000), though the window had held all 3,000 of it.
    from novaos.limits import MemoryAdmission, TierLimits
    from novaos.limits.model import AdmitRequest, LeaseGrant
    from novaos.limits.tiers import WINDOW_MS

    backend = admission if kind == "redis" else MemoryAdmission()
    subject = LimitSubject(f"lost-top-up-{uuid.uuid4().hex}", Tier.PRO)
    limits, t0, ttl = TierLimits(100, 10_000, 5), 2_300_000_000_000, 30_000
    grant = await backend.admit(AdmitRequest(subject, limits, "long", 1000, ttl, now_ms=t0))
    assert isinstance(grant, LeaseGrant)
    assert (await backend.top_up(grant, 2000, now_ms=t0 + 1)).admitted  # the answer lost
    for at in range(t0 + ttl // 3, t0 + WINDOW_MS, ttl // 3):  # the stream runs on
        assert await backend.refresh(grant, now_ms=at)
    end = t0 + WINDOW_MS + 5000
    await backend.release(grant, 3000, reserved_tokens=1000, now_ms=end)
    after = await backend.admit(AdmitRequest(subject, limits, "next", 1, ttl, now_ms=end + 1))
    assert isinstance(after, LeaseGrant)
    assert after.result.headers.tokens is not None
    assert after.result.headers.tokens.remaining == 10_000 - 1  # 3,000 used: all counted
