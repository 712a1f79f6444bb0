"""A lease grows to the real prompt before the upstream call, and charges what was used."""

from __future__ import annotations

import asyncio

import pytest

from novaos.domain import Tier
from novaos.errors import OverTokenLimitError, RateLimitedError, StorageUnavailableError
from novaos.limits import LeaseLimiter, LimitSubject, MemoryAdmission, TierLimits
from novaos.limits.model import AdmitResult, LeaseGrant

LIMITS = {tier: TierLimits(100, 10_000, 5) for tier in Tier}


class Observer:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def limit_exceeded(self, tier: str, limit: str) -> None:
        self.seen.append((tier, limit))


async def fits(limiter: LeaseLimiter, subject: LimitSubject, tokens: int) -> bool:
    try:
        async with limiter.hold(subject, tokens):
            return True
    except RateLimitedError:
        return False


async def test_reserve_grows_the_lease_and_refuses_past_the_limit() -> None:
    observer = Observer()
    limiter = LeaseLimiter(MemoryAdmission(), LIMITS, lease_ttl_ms=30_000, observer=observer)
    subject = LimitSubject("ann", Tier.FREE)
    async with limiter.hold(subject, 1_000) as lease:
        await lease.reserve(6_000)
        await lease.reserve(2_000)  # already covered: no change
        assert lease.reserved_tokens == 6_000
        assert not await fits(limiter, subject, 4_001)  # the grown reservation counts
        with pytest.raises(OverTokenLimitError):
            await lease.reserve(10_001)  # above the whole limit: no wait would help
        with pytest.raises(RateLimitedError) as caught:
            async with limiter.hold(subject, 3_000) as other:
                other.settle(0)
                await lease.reserve(7_001)  # fits the limit, not what is left of it
        assert caught.value.violation.limit == "tokens_per_minute"
        assert caught.value.headers.limit == 10_000  # the limit that refused
        assert caught.value.headers.remaining == 0
        assert 0 < caught.value.retry_after_s <= 60
        assert lease.reserved_tokens == 6_000  # a refused top-up charges nothing
        lease.settle(5_000)
    assert observer.seen[-1] == ("free", "tokens_per_minute")
    assert await fits(limiter, subject, 5_000)  # settled to the 5,000 really used
    await limiter.aclose()


async def test_a_retry_over_the_whole_limit_is_a_rate_limit_not_a_precondition() -> None:
    # A later model call (failover, regeneration) reserves what the earlier calls
    # are charged plus its own: over the whole limit, the request asked again from
    # the start still fits, so it is told when to retry, never "can never be admitted".
    observer = Observer()
    limiter = LeaseLimiter(MemoryAdmission(), LIMITS, lease_ttl_ms=30_000, observer=observer)
    subject = LimitSubject("rex", Tier.FREE)
    async with limiter.hold(subject, 6_000) as lease:
        with pytest.raises(RateLimitedError) as caught:
            await lease.reserve(10_001, retry=True)
        assert not isinstance(caught.value, OverTokenLimitError)
        assert caught.value.violation.limit == "tokens_per_minute"
        assert 0 < caught.value.retry_after_s <= 60
        assert lease.reserved_tokens == 6_000  # nothing charged
        await lease.reserve(9_000, retry=True)  # what fits is reserved as ever
        assert lease.reserved_tokens == 9_000
        lease.settle(7_000)
    assert observer.seen == [("free", "tokens_per_minute")]
    await limiter.aclose()


async def test_release_charges_the_real_usage_even_above_the_reservation() -> None:
    # Capped at the reservation, an underestimated request (CJK text was counted
    # at half its real tokens) hid what it spent, and its user got more than the
    # limit every minute. The window now holds the real usage.
    limiter = LeaseLimiter(MemoryAdmission(), LIMITS, lease_ttl_ms=30_000)
    subject = LimitSubject("ben", Tier.FREE)
    async with limiter.hold(subject, 100) as lease:
        lease.settle(5_000)
    assert lease.charge == 5_000
    assert not await fits(limiter, subject, 5_001)
    assert await fits(limiter, subject, 5_000)
    await limiter.aclose()


async def test_usage_over_the_limit_refuses_what_follows_until_it_ages_out() -> None:
    limiter = LeaseLimiter(MemoryAdmission(), LIMITS, lease_ttl_ms=30_000)
    subject = LimitSubject("bea", Tier.FREE)
    async with limiter.hold(subject, 9_000) as lease:
        lease.settle(12_000)  # the provider counted more than the whole limit
    assert not await fits(limiter, subject, 1)


class GatedTopUp(MemoryAdmission):
    """Top-ups answer only when the test opens the gate."""

    completes_without_suspending = False  # it waits: the limiter must shield its calls

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def top_up(
        self,
        grant: LeaseGrant,
        extra_tokens: int,
        *,
        retry: bool = False,
        now_ms: int | None = None,
    ) -> AdmitResult:
        self.started.set()
        await self.gate.wait()
        return await super().top_up(grant, extra_tokens, retry=retry, now_ms=now_ms)


async def test_cancel_during_top_up_releases_after_it_lands() -> None:
    backend = GatedTopUp()
    limiter = LeaseLimiter(backend, LIMITS, lease_ttl_ms=30_000)
    subject = LimitSubject("cid", Tier.FREE)

    async def request() -> None:
        async with limiter.hold(subject, 1_000) as lease:
            try:
                await lease.reserve(9_000)
                pytest.fail("the cancelled request must not reach the model")
            finally:
                lease.settle(0)  # as the chat service does: nothing reached the upstream

    task = asyncio.create_task(request())
    await backend.started.wait()
    task.cancel()
    for _ in range(20):  # let the cancelled request run its exit while the top-up hangs
        await asyncio.sleep(0)
    backend.gate.set()  # the top-up completes behind the cancelled caller
    with pytest.raises(asyncio.CancelledError):
        await task
    await limiter.aclose()
    assert await backend.active_leases(subject) == 0
    # Released after the top-up landed, so reconciled to 0: the whole budget is free.
    assert await fits(limiter, subject, 10_000)
    await limiter.aclose()


class TopUpOutage(MemoryAdmission):
    """Admits in memory; every top-up finds the store unavailable."""

    async def top_up(
        self,
        grant: LeaseGrant,
        extra_tokens: int,
        *,
        retry: bool = False,
        now_ms: int | None = None,
    ) -> AdmitResult:
        raise StorageUnavailableError("redis down")


async def test_a_top_up_the_store_cannot_take_serves_on_without_growing_the_charge() -> None:
    limiter = LeaseLimiter(TopUpOutage(), LIMITS, lease_ttl_ms=30_000)
    subject = LimitSubject("dee", Tier.FREE)
    async with limiter.hold(subject, 1_000) as lease:
        await lease.reserve(4_000)  # served: an outage never fails the request
        assert lease.reserved_tokens == 1_000  # nothing more was admitted
        lease.settle(4_000)
    assert lease.charge == 4_000  # what was really used, admitted or not
    assert await fits(limiter, subject, 6_000)
    assert not await fits(limiter, subject, 6_001)
    await limiter.aclose()


async def test_a_hold_longer_than_the_window_is_charged_its_usage_above_what_it_reserved() -> None:
    # The reservation (admission and top-up) counted for its minute and then left
    # the window: the release charges what the request used beyond it, from its
    # end, so the window does not hide the tokens of a stream longer than a minute.
    from novaos.limits.tiers import WINDOW_MS

    now = [1_000_000]
    backend = MemoryAdmission(clock_ms=lambda: now[0])
    limiter = LeaseLimiter(backend, LIMITS, lease_ttl_ms=30_000)
    subject = LimitSubject("slow", Tier.FREE)
    async with limiter.hold(subject, 1_000) as lease:
        await lease.reserve(3_000)
        now[0] += WINDOW_MS + 5_000
        lease.settle(9_000)
    assert await fits(limiter, subject, 4_000)  # 6,000 charged: 9,000 less the 3,000
    assert not await fits(limiter, subject, 1)
    await limiter.aclose()


class TopUpAnswerLost(MemoryAdmission):
    """Runs every top-up, then loses its answer (a command timeout)."""

    async def top_up(
        self,
        grant: LeaseGrant,
        extra_tokens: int,
        *,
        retry: bool = False,
        now_ms: int | None = None,
    ) -> AdmitResult:
        await super().top_up(grant, extra_tokens, retry=retry, now_ms=now_ms)
        raise StorageUnavailableError("redis unavailable: TimeoutError")


async def test_a_top_up_that_ran_but_lost_its_answer_is_not_charged_again_at_the_end() -> None:
    # The limiter counts a top-up whose answer was lost as never admitted, but the
    # store charged it: the window held 3,000 for the admission's minute. Released
    # past the window with the limiter's count (1,000), the 3,000 used were charged
    # 2,000 more, the top-up a second time.
    from novaos.limits.tiers import WINDOW_MS

    now = [1_000_000]
    limiter = LeaseLimiter(TopUpAnswerLost(clock_ms=lambda: now[0]), LIMITS, lease_ttl_ms=120_000)
    subject = LimitSubject("lost-top-up", Tier.FREE)
    async with limiter.hold(subject, 1_000) as lease:
        await lease.reserve(3_000)
        assert lease.reserved_tokens == 1_000  # as far as the limiter knows
        now[0] += WINDOW_MS + 5_000
        lease.settle(3_000)
    assert await fits(limiter, subject, 10_000)  # the 3,000 counted for their minute
    await limiter.aclose()
