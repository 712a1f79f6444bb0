"""Lease lifecycle over the memory backend: refusals, release on any exit, cancels."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from novaos.domain import Tier
from novaos.errors import RateLimitedError, StorageUnavailableError
from novaos.limits import (
    LeaseLimiter,
    LimitSubject,
    MemoryAdmission,
    TierLimits,
)
from novaos.limits.model import AdmitRequest, AdmitResult, LeaseGrant

LIMITS = {
    Tier.FREE: TierLimits(requests_per_minute=10, tokens_per_minute=10_000, concurrency=2),
    Tier.PRO: TierLimits(60, 100_000, 10),
    Tier.ENTERPRISE: TierLimits(100_000, 10**9, 100_000),
}


class RecordingObserver:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def limit_exceeded(self, tier: str, limit: str) -> None:
        self.seen.append((tier, limit))


def make(ttl_ms: int = 30_000) -> tuple[LeaseLimiter, MemoryAdmission, RecordingObserver]:
    backend, observer = MemoryAdmission(), RecordingObserver()
    return LeaseLimiter(backend, LIMITS, lease_ttl_ms=ttl_ms, observer=observer), backend, observer


async def test_requests_per_minute_refusal_names_the_limit() -> None:
    limiter, _, observer = make()
    subject = LimitSubject("alice", Tier.FREE)
    for i in range(10):
        async with limiter.hold(subject, 10) as lease:
            assert lease.headers.limit == 10
            assert lease.headers.remaining == 9 - i
    with pytest.raises(RateLimitedError) as caught:
        async with limiter.hold(subject, 10):
            pytest.fail("admitted over the limit")
    err = caught.value
    assert err.violation.limit == "requests_per_minute"
    assert err.violation.subject == "alice"
    assert 0 < err.retry_after_s <= 60
    assert err.headers.remaining == 0
    assert observer.seen == [("free", "requests_per_minute")]
    await limiter.aclose()


async def test_concurrency_refusal_charges_no_request_quota() -> None:
    limiter, backend, observer = make()
    subject = LimitSubject("bob", Tier.FREE)
    async with limiter.hold(subject, 1), limiter.hold(subject, 1):
        for _ in range(5):
            with pytest.raises(RateLimitedError) as caught:
                async with limiter.hold(subject, 1):
                    pass
            assert caught.value.violation.limit == "concurrency"
    admitted = 2
    for _ in range(20):
        try:
            async with limiter.hold(subject, 1):
                admitted += 1
        except RateLimitedError as exc:
            assert exc.violation.limit == "requests_per_minute"
    assert admitted == 10  # the five concurrency refusals cost nothing
    assert await backend.active_leases(subject) == 0
    assert observer.seen.count(("free", "concurrency")) == 5
    await limiter.aclose()


async def test_tokens_reserved_up_front_and_reconciled_on_release() -> None:
    limiter, _, _ = make()
    subject = LimitSubject("carol", Tier.FREE)
    async with limiter.hold(subject, 9_000) as lease:
        with pytest.raises(RateLimitedError) as caught:
            async with limiter.hold(subject, 2_000):
                pass
        assert caught.value.violation.limit == "tokens_per_minute"
        lease.settle(1_000)  # the answer was shorter than max output
    async with limiter.hold(subject, 9_000):
        pass  # 1,000 + 9,000 fits the 10,000 budget


async def test_unsettled_lease_keeps_its_reservation() -> None:
    limiter, _, _ = make()
    subject = LimitSubject("dave", Tier.FREE)
    async with limiter.hold(subject, 9_000):
        pass
    with pytest.raises(RateLimitedError):
        async with limiter.hold(subject, 2_000):
            pass


async def test_release_on_exception_and_on_cancel() -> None:
    limiter, backend, _ = make()
    subject = LimitSubject("erin", Tier.FREE)
    with pytest.raises(ZeroDivisionError):
        async with limiter.hold(subject, 1):
            _ = 1 / 0
    entered = asyncio.Event()

    async def stream() -> None:
        async with limiter.hold(subject, 1):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stream())
    await entered.wait()
    assert await backend.active_leases(subject) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await limiter.aclose()
    assert await backend.active_leases(subject) == 0


class GatedAdmission(MemoryAdmission):
    """Admission that answers only when the test opens the gate."""

    completes_without_suspending = False  # it waits: the limiter must shield its calls

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def admit(self, request: AdmitRequest) -> LeaseGrant | AdmitResult:
        self.started.set()
        await self.gate.wait()
        return await super().admit(request)


async def test_cancel_during_admission_undoes_the_charge() -> None:
    backend = GatedAdmission()
    limiter = LeaseLimiter(backend, LIMITS, lease_ttl_ms=30_000)
    subject = LimitSubject("frank", Tier.FREE)

    async def request() -> None:
        async with limiter.hold(subject, 9_000):
            pytest.fail("the cancelled request must not run")

    task = asyncio.create_task(request())
    await backend.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    backend.gate.set()  # the admission now completes behind the cancelled caller
    await limiter.aclose()
    assert await backend.active_leases(subject) == 0
    async with limiter.hold(subject, 10_000):
        pass  # the undone reservation was refunded in full


async def test_refresher_keeps_a_long_stream_leased() -> None:
    ttl_ms = 300
    limiter, backend, _ = make(ttl_ms)
    subject = LimitSubject("gina", Tier.FREE)
    async with limiter.hold(subject, 1):
        deadline = time.monotonic() + 4 * ttl_ms / 1000  # outlive the TTL several times
        while time.monotonic() < deadline:
            assert await backend.active_leases(subject) == 1
            await asyncio.sleep(0.02)
    assert await backend.active_leases(subject) == 0
    await limiter.aclose()


async def test_a_short_hold_starts_no_refresh_task() -> None:
    """The refresh task starts only once a refresh is due (a third of the TTL):
    a request shorter than that adds no task to the loop, and a held lease's
    timer is disarmed by aclose, so nothing refreshes after shutdown."""
    limiter, backend, _ = make(60_000)
    subject = LimitSubject("hana", Tier.FREE)
    before = asyncio.all_tasks()
    async with limiter.hold(subject, 1):
        assert asyncio.all_tasks() == before
    held = limiter.hold(subject, 1)
    await held.__aenter__()
    await limiter.aclose()
    assert asyncio.all_tasks() == before
    await held.__aexit__(None, None, None)
    assert await backend.active_leases(subject) == 0


async def test_ten_thousand_random_cancels_leave_no_lease() -> None:
    limiter, backend, _ = make()
    subject = LimitSubject("load", Tier.ENTERPRISE)
    rng = random.Random(7)

    async def request() -> None:
        async with limiter.hold(subject, 5) as lease:
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(0)
            lease.settle(3)

    for _ in range(20):
        tasks = [asyncio.create_task(request()) for _ in range(500)]
        for _ in range(6):
            await asyncio.sleep(0)
            for task in rng.sample(tasks, 80):
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await limiter.aclose()
    assert await backend.active_leases(subject) == 0


class _LosesACancel(MemoryAdmission):
    """Its refresh waits (a stalled Redis) and once loses the cancel it is given,
    as ``asyncio.wait_for`` on Python 3.11 can when its result comes at once."""

    def __init__(self) -> None:
        super().__init__()
        self.completes_without_suspending = False  # as the Redis backend
        self.refreshing = asyncio.Event()
        self.lost = 0

    async def refresh(self, grant: LeaseGrant, *, now_ms: int | None = None) -> bool:
        self.refreshing.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if self.lost:
                raise
            self.lost += 1
        return await super().refresh(grant, now_ms=now_ms)


async def test_a_refresh_that_loses_its_cancel_still_lets_the_lease_go() -> None:
    # The refresh loop ran on after its lost cancel, and the release waited for it
    # for good: the request never ended and its lease was refreshed forever.
    backend = _LosesACancel()
    limiter = LeaseLimiter(backend, LIMITS, lease_ttl_ms=30)  # first refresh due at 10 ms
    subject = LimitSubject("ines", Tier.FREE)

    async def request() -> None:
        async with limiter.hold(subject, 1):
            await backend.refreshing.wait()

    await asyncio.wait_for(request(), timeout=10)
    assert backend.lost == 1
    assert await backend.active_leases(subject) == 0
    await limiter.aclose()


class _AnswerLost(MemoryAdmission):
    """A store whose first release runs but answers only with a timeout, after
    ``lost_s``; it then fails every release sent (Redis down), recording when."""

    completes_without_suspending = False

    def __init__(self, lost_s: float) -> None:
        super().__init__()
        self.lost_s = lost_s
        self.sent: list[float] = []  # loop time of each release sent

    async def release(
        self,
        grant: LeaseGrant,
        actual_tokens: int | None,
        *,
        reserved_tokens: int | None = None,
        now_ms: int | None = None,
    ) -> None:
        self.sent.append(asyncio.get_running_loop().time())
        if len(self.sent) > 1:
            raise StorageUnavailableError("redis unavailable: down")
        await super().release(grant, actual_tokens, reserved_tokens=reserved_tokens)
        await asyncio.sleep(self.lost_s)
        raise StorageUnavailableError("redis unavailable: TimeoutError")


async def test_a_release_is_sent_again_only_within_a_lease_ttl_of_its_first_sending() -> None:
    # The retry's deadline ran from the failure, a command timeout after the release
    # was sent (and perhaps ran): a repeat then reached Redis after the tombstone
    # that makes it a no-op (a lease TTL from the run) had expired, and was applied
    # again. Retries at 0.35, 0.45 and 0.65 s after the first sending: the last one
    # is past the 0.5 s TTL.
    backend = _AnswerLost(lost_s=0.3)
    limiter = LeaseLimiter(backend, LIMITS, lease_ttl_ms=500)
    async with limiter.hold(LimitSubject("lost-answer", Tier.FREE), 100) as lease:
        lease.settle(60)
    first = backend.sent[0]
    # What is checked is that nothing is sent late: its time must pass to see it.
    await asyncio.sleep(0.5 + 0.3 + 0.1 - (asyncio.get_running_loop().time() - first))
    assert len(backend.sent) > 1, "the release whose answer was lost is sent again"
    assert max(backend.sent) - first < 0.5, [round(t - first, 2) for t in backend.sent]
    await limiter.aclose()
