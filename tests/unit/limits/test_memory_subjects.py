"""The in-process backend forgets callers that stopped calling, and only them."""

from __future__ import annotations

from novaos.domain import Tier
from novaos.limits import LimitSubject, MemoryAdmission, TierLimits
from novaos.limits.model import REQUESTS, AdmitRequest, LeaseGrant
from novaos.limits.tiers import WINDOW_MS

LIMITS = TierLimits(requests_per_minute=3, tokens_per_minute=10_000, concurrency=5)
TTL_MS = 30_000


def _request(user: str, lease: str, now: int) -> AdmitRequest:
    return AdmitRequest(LimitSubject(user, Tier.FREE), LIMITS, lease, 10, TTL_MS, now_ms=now)


async def _admit(backend: MemoryAdmission, user: str, lease: str, now: int) -> LeaseGrant:
    grant = await backend.admit(_request(user, lease, now))
    assert isinstance(grant, LeaseGrant), grant
    return grant


async def test_idle_callers_are_forgotten_after_a_window() -> None:
    backend = MemoryAdmission(clock_ms=lambda: 0)
    for i in range(1000):
        grant = await _admit(backend, f"user-{i}", f"l{i}", now=0)
        await backend.release(grant, 10, now_ms=0)
    assert backend.subjects == 1000  # their requests still count for a minute
    await _admit(backend, "late", "l-late", now=WINDOW_MS + 1)
    assert backend.subjects == 1


async def test_a_caller_inside_the_window_keeps_its_count() -> None:
    backend = MemoryAdmission(clock_ms=lambda: 0)
    for i in range(3):
        await backend.release(await _admit(backend, "alice", f"a{i}", now=0), 10, now_ms=0)
    await _admit(backend, "bob", "b0", now=WINDOW_MS - 1)  # sweeps, but alice is not idle yet
    refused = await backend.admit(_request("alice", "a3", WINDOW_MS - 1))
    assert not isinstance(refused, LeaseGrant) and refused.violation == REQUESTS


async def test_a_refreshed_lease_keeps_its_caller_and_an_abandoned_one_expires() -> None:
    backend = MemoryAdmission(clock_ms=lambda: 0)
    held = await _admit(backend, "streamer", "s0", now=0)
    abandoned = await _admit(backend, "crashed", "c0", now=0)
    assert abandoned.request.lease_id == "c0"
    for now in range(TTL_MS // 3, 3 * WINDOW_MS, TTL_MS // 3):  # the limiter's refresh cadence
        assert await backend.refresh(held, now_ms=now)
        await _admit(backend, f"other-{now}", f"o{now}", now=now)
    end = 3 * WINDOW_MS
    assert await backend.active_leases(held.request.subject, now_ms=end) == 1
    assert await backend.active_leases(abandoned.request.subject, now_ms=end) == 0
    assert backend.subjects < 10  # the passers-by and the crashed caller are gone
