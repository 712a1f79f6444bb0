"""A refusal's x-ratelimit-* headers describe the limit that refused, not requests/min.

Written against any ``AdmissionBackend``: run here over memory, and over a real
redis-server by ``tests/integration/limits/test_redis_refusal_headers.py``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable

import pytest

from novaos.domain import Tier
from novaos.errors import OverTokenLimitError, RateLimitedError
from novaos.limits import LeaseLimiter, LimitSubject, MemoryAdmission, TierLimits
from novaos.limits.model import AdmissionBackend

Scenario = Callable[[AdmissionBackend], Awaitable[None]]


def _limiter(backend: AdmissionBackend, limits: TierLimits) -> LeaseLimiter:
    return LeaseLimiter(backend, dict.fromkeys(Tier, limits), lease_ttl_ms=30_000)


def _subject() -> LimitSubject:
    return LimitSubject(f"hdr-{uuid.uuid4().hex}", Tier.FREE)


def _wire(err: RateLimitedError) -> dict[str, str]:
    """The headers as the client gets them, and the Retry-After transport adds."""
    headers = dict(err.headers.as_metadata())
    headers["retry-after"] = str(max(1, math.ceil(err.retry_after_s)))
    return headers


async def admitted_call_describes_requests_and_each_window(backend: AdmissionBackend) -> None:
    limiter, subject = _limiter(backend, TierLimits(10, 1000, 2)), _subject()
    async with limiter.hold(subject, 300), limiter.hold(subject, 200) as lease:
        headers = dict(lease.headers.as_metadata())
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("10", "8")
    assert 59 <= int(headers["x-ratelimit-reset"]) <= 60
    assert headers["x-ratelimit-limit-requests"] == "10"
    assert headers["x-ratelimit-remaining-requests"] == "8"
    assert headers["x-ratelimit-reset-requests"] == headers["x-ratelimit-reset"] + "s"
    assert headers["x-ratelimit-limit-tokens"] == "1000"
    assert headers["x-ratelimit-remaining-tokens"] == "500"
    assert headers["x-ratelimit-reset-tokens"] in ("59s", "60s")
    await limiter.aclose()


async def requests_refusal_shows_requests_used_up(backend: AdmissionBackend) -> None:
    limiter, subject = _limiter(backend, TierLimits(2, 1000, 5)), _subject()
    for _ in range(2):
        async with limiter.hold(subject, 10):
            pass
    with pytest.raises(RateLimitedError) as caught:
        async with limiter.hold(subject, 10):
            pytest.fail("admitted over requests/min")
    assert caught.value.violation.limit == "requests_per_minute"
    headers = _wire(caught.value)
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("2", "0")
    assert headers["x-ratelimit-reset"] == headers["retry-after"]
    assert 59 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"] == headers["retry-after"] + "s"
    assert headers["x-ratelimit-remaining-tokens"] == "980"
    await limiter.aclose()


async def tokens_refusal_shows_tokens_used_up(backend: AdmissionBackend) -> None:
    # Requests/min has room left: the old headers said limit 10, remaining 9.
    limiter, subject = _limiter(backend, TierLimits(10, 100, 5)), _subject()
    async with limiter.hold(subject, 60):
        pass
    with pytest.raises(RateLimitedError) as caught:
        async with limiter.hold(subject, 60):
            pytest.fail("admitted over tokens/min")
    assert caught.value.violation.limit == "tokens_per_minute"
    headers = _wire(caught.value)
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("100", "0")
    assert headers["x-ratelimit-reset"] == headers["retry-after"]
    assert 59 <= int(headers["retry-after"]) <= 60  # when the first 60 tokens leave
    assert headers["x-ratelimit-limit-tokens"] == "100"
    assert headers["x-ratelimit-remaining-tokens"] == "40"  # left, but fewer than asked
    assert headers["x-ratelimit-reset-tokens"] == headers["retry-after"] + "s"
    assert headers["x-ratelimit-remaining-requests"] == "9"  # not what refused
    await limiter.aclose()


async def top_up_refusal_shows_tokens_used_up(backend: AdmissionBackend) -> None:
    limiter, subject = _limiter(backend, TierLimits(10, 100, 5)), _subject()
    async with limiter.hold(subject, 50), limiter.hold(subject, 30) as lease:
        with pytest.raises(RateLimitedError) as caught:
            await lease.reserve(60)  # fits the limit, not what is left of it
    assert caught.value.violation.limit == "tokens_per_minute"
    headers = _wire(caught.value)
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("100", "0")
    assert headers["x-ratelimit-reset"] == headers["retry-after"]
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-remaining-tokens"] == "20"
    assert headers["x-ratelimit-remaining-requests"] == "8"
    await limiter.aclose()


async def over_the_whole_limit_is_no_rate_limit(backend: AdmissionBackend) -> None:
    # A reservation above the whole limit fits no window: retrying it after the
    # Retry-After (60 s) it was sent was refused again, for ever.
    limiter, subject = _limiter(backend, TierLimits(10, 100, 5)), _subject()
    with pytest.raises(OverTokenLimitError) as admitted:
        async with limiter.hold(subject, 101):
            pytest.fail("admitted above the whole tokens/min limit")
    async with limiter.hold(subject, 30) as lease:
        with pytest.raises(OverTokenLimitError) as topped:
            await lease.reserve(101)  # the real prompt is larger than the whole limit
    for caught, reserved in ((admitted, 101), (topped, 101)):
        assert caught.value.violation.limit == "tokens_per_minute"
        assert f"reserves {reserved} tokens" in caught.value.message
        assert "100 tokens per minute" in caught.value.message
        headers = dict(caught.value.headers.as_metadata())
        assert headers["x-ratelimit-limit"] == headers["x-ratelimit-limit-tokens"] == "100"
    # Nothing charged by either refusal: the window as the admitted lease left it.
    assert dict(admitted.value.headers.as_metadata())["x-ratelimit-remaining-tokens"] == "100"
    assert dict(topped.value.headers.as_metadata())["x-ratelimit-remaining-tokens"] == "70"
    assert dict(topped.value.headers.as_metadata())["x-ratelimit-remaining-requests"] == "9"
    await limiter.aclose()


async def concurrency_refusal_shows_slots_used_up(backend: AdmissionBackend) -> None:
    limiter, subject = _limiter(backend, TierLimits(10, 1000, 2)), _subject()
    async with limiter.hold(subject, 1), limiter.hold(subject, 1):
        with pytest.raises(RateLimitedError) as caught:
            async with limiter.hold(subject, 1):
                pytest.fail("admitted over the concurrency limit")
    assert caught.value.violation.limit == "concurrency"
    headers = _wire(caught.value)
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("2", "0")
    assert headers["x-ratelimit-reset"] == headers["retry-after"] == "1"
    assert headers["x-ratelimit-remaining-requests"] == "8"  # their own windows, as they are
    assert headers["x-ratelimit-remaining-tokens"] == "998"
    await limiter.aclose()


SCENARIOS: list[Scenario] = [
    admitted_call_describes_requests_and_each_window,
    requests_refusal_shows_requests_used_up,
    tokens_refusal_shows_tokens_used_up,
    top_up_refusal_shows_tokens_used_up,
    over_the_whole_limit_is_no_rate_limit,
    concurrency_refusal_shows_slots_used_up,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_memory(scenario: Scenario) -> None:
    await scenario(MemoryAdmission())
