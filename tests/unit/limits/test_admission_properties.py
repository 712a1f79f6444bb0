"""The memory backend agrees with the naive model on every sequence hypothesis finds."""

from __future__ import annotations

from dataclasses import astuple

from hypothesis import HealthCheck, example, given, settings

from novaos.domain import Tier
from novaos.limits import LimitSubject, MemoryAdmission, TierLimits
from novaos.limits.model import (
    RELEASE_SLACK_MS,
    AdmissionBackend,
    AdmitRequest,
    AdmitResult,
    LeaseGrant,
)
from tests.fixtures.admission_model import AdmissionModel, Verdict, ops

LIMITS = TierLimits(requests_per_minute=4, tokens_per_minute=1000, concurrency=2)
TTL_MS = 15_000


def _verdict(result: AdmitResult) -> Verdict:
    headers = result.headers
    assert headers.requests is not None and headers.tokens is not None
    return Verdict(
        result.admitted,
        result.violation,
        result.retry_after_ms,
        (headers.limit, headers.remaining, headers.reset_s),
        astuple(headers.requests),
        astuple(headers.tokens),
    )


async def run_against_model(
    backend: AdmissionBackend, subject: LimitSubject, steps: list[tuple[object, ...]]
) -> None:
    model = AdmissionModel(LIMITS, TTL_MS)
    now = 1_700_000_000_000
    grants: list[LeaseGrant] = []
    released: dict[str, tuple[int, int | None, int]] = {}  # id -> (at, actual, reserved)
    for step in steps:
        if step[0] == "advance":
            now += int(str(step[1]))
        elif step[0] == "admit":
            tokens = int(str(step[1]))
            lease_id = f"l{len(grants)}-{now}-{tokens}-{id(step)}"
            request = AdmitRequest(subject, LIMITS, lease_id, tokens, TTL_MS, now_ms=now)
            outcome = await backend.admit(request)
            result = outcome if isinstance(outcome, AdmitResult) else outcome.result
            assert _verdict(result) == model.admit(now, lease_id, tokens), step
            if isinstance(outcome, LeaseGrant):
                grants.append(outcome)
        elif step[0] == "top_up" and grants:
            grant = grants[int(str(step[1])) % len(grants)]
            extra, retry = int(str(step[2])), bool(step[3])
            result = await backend.top_up(grant, extra, retry=retry, now_ms=now)
            expected = model.top_up(now, grant.request.lease_id, extra, retry)
            assert _verdict(result) == expected, step
        elif step[0] == "release" and grants:
            grant = grants[int(str(step[1])) % len(grants)]
            lease_id = grant.request.lease_id
            if lease_id in released:
                # The limiter's retry of a release that ran but whose answer was
                # lost: the same call, up to a lease TTL after the first (and the
                # slack the backends add to that), changes nothing.
                at, actual, reserved = released[lease_id]
                if now - at < TTL_MS + RELEASE_SLACK_MS:
                    await backend.release(grant, actual, reserved_tokens=reserved, now_ms=now)
                continue
            actual = step[2] if step[2] is None else int(str(step[2]))
            reserved = model.reserved[lease_id]
            released[lease_id] = (now, actual, reserved)
            await backend.release(grant, actual, reserved_tokens=reserved, now_ms=now)
            model.release(now, lease_id, actual)


# A release sent again a lease TTL after the first (the limiter's retry can be that
# late), in the window and past it: it cut the charge, or charged the usage twice.
@example(
    steps=[
        ("admit", 700),
        ("release", 0, 300),
        ("advance", TTL_MS),
        ("release", 0, 300),
        ("admit", 600),
    ]
)
@example(
    steps=[
        ("admit", 100),
        ("advance", 61_000),
        ("release", 0, 500),
        ("advance", TTL_MS),
        ("release", 0, 500),
        ("admit", 500),
    ]
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=ops)
async def test_memory_admission_matches_model(steps: list[tuple[object, ...]]) -> None:
    await run_against_model(MemoryAdmission(), LimitSubject("user-1", Tier.FREE), steps)
