"""In-process admission with the same arithmetic as the Redis script.

Used without Redis (dev) and during a Redis outage. Each call runs without an
await, so on one event loop it is as atomic as the script is in Redis.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from novaos.errors import RateLimitHeaders
from novaos.limits.model import (
    CONCURRENCY,
    OVER_TOKEN_LIMIT,
    RELEASE_SLACK_MS,
    REQUESTS,
    TOKENS,
    AdmitRequest,
    AdmitResult,
    LeaseGrant,
    LimitSubject,
    limit_window,
    rate_limit_headers,
)
from novaos.limits.tiers import WINDOW_MS, TierLimits


@dataclass(slots=True)
class _Window:
    requests: deque[tuple[int, str]] = field(default_factory=deque)  # (admitted at, id)
    tokens: OrderedDict[str, tuple[int, int]] = field(default_factory=OrderedDict)
    token_total: int = 0
    leases: dict[str, int] = field(default_factory=dict)  # id -> expires at
    # id -> until when: a release seen again changes nothing, as in Redis
    # (``AdmissionBackend.release``: a lease TTL and ``RELEASE_SLACK_MS``)
    released: dict[str, int] = field(default_factory=dict)
    # id -> charged in all: as admission.lua's record, which a release reads (a top-up
    # whose answer was lost is missing from the caller's count). It goes with its lease:
    # a top-up here never loses its answer, and a lease expires here only if its
    # process stalled for a TTL (no Redis outage stops its refreshes).
    charged: dict[str, int] = field(default_factory=dict)
    touched: int = 0  # last admit, top-up, refresh or release (ms)

    def purge(self, now: int) -> None:
        horizon = now - WINDOW_MS
        while self.requests and self.requests[0][0] <= horizon:
            self.requests.popleft()
        while self.tokens:
            lease_id, (at, amount) = next(iter(self.tokens.items()))
            if at > horizon:
                break
            del self.tokens[lease_id]
            self.token_total -= amount
        for lease_id in [k for k, exp in self.leases.items() if exp <= now]:
            del self.leases[lease_id]
            self.charged.pop(lease_id, None)
        for lease_id in [k for k, exp in self.released.items() if exp <= now]:
            del self.released[lease_id]

    @property
    def empty(self) -> bool:
        return not (self.requests or self.tokens or self.leases or self.released)

    def settle(self, lease_id: str, actual: int, reserved: int, now: int) -> None:
        """Charge ``actual`` for a lease charged ``reserved`` in all (as admission.lua's
        release): what of that left the window counted for its minute, so only the
        usage beyond it is charged, from now if nothing of the lease is left."""
        at, held = self.tokens.get(lease_id, (now, 0))
        charge = max(actual - max(reserved - held, 0), 0)
        if lease_id in self.tokens or charge:
            self.tokens[lease_id] = (at, charge)
            self.token_total += charge - held


class MemoryAdmission:
    """``AdmissionBackend`` over dicts; clock in milliseconds (monotonic by default)."""

    name = "memory"
    completes_without_suspending = True  # every call below runs without an await

    def __init__(self, *, clock_ms: Callable[[], int] | None = None) -> None:
        self._clock_ms = clock_ms or (lambda: time.monotonic_ns() // 1_000_000)
        # Least recently touched first: subjects that stopped calling are dropped
        # from the front once nothing of theirs can count any more.
        # Keyed by the subject alone: its tier picks the numbers, not the counters.
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    @property
    def subjects(self) -> int:
        """Subjects with state held (bounded by who called in the last window)."""
        return len(self._windows)

    def _now(self, now_ms: int | None) -> int:
        return self._clock_ms() if now_ms is None else now_ms

    def _window(self, subject: LimitSubject, now: int) -> _Window:
        self._drop_idle(now)
        window = self._windows.get(subject.key)
        if window is None:
            window = self._windows[subject.key] = _Window()
        else:
            self._windows.move_to_end(subject.key)
        window.touched = now
        window.purge(now)
        return window

    def _drop_idle(self, now: int) -> None:
        """Forget subjects idle for a whole window whose leases have all expired.

        A live lease is refreshed (which touches its window) well before its
        TTL, so an idle window holds only expired state; amortised O(1).
        """
        while self._windows:
            subject, window = next(iter(self._windows.items()))
            if now - window.touched <= WINDOW_MS:
                return
            window.purge(now)
            if not window.empty:
                self._windows.move_to_end(subject)  # a lease outliving the window: look later
                return
            del self._windows[subject]

    async def admit(self, request: AdmitRequest) -> LeaseGrant | AdmitResult:
        now = self._now(request.now_ms)
        window = self._window(request.subject, now)
        violation, retry_ms = _check(window, request, now)
        if violation:
            headers = _headers(window, request.limits, now, violation, retry_ms)
            return AdmitResult(False, violation, retry_ms, headers)
        window.requests.append((now, request.lease_id))
        window.tokens[request.lease_id] = (now, request.tokens)
        window.token_total += request.tokens
        window.leases[request.lease_id] = now + request.lease_ttl_ms
        window.charged[request.lease_id] = request.tokens
        result = AdmitResult(True, "", 0, _headers(window, request.limits, now))
        return LeaseGrant(request=request, result=result, issuer=self)

    async def top_up(
        self,
        grant: LeaseGrant,
        extra_tokens: int,
        *,
        retry: bool = False,
        now_ms: int | None = None,
    ) -> AdmitResult:
        now = self._now(now_ms)
        request = grant.request
        window = self._window(request.subject, now)
        limits = request.limits
        held = window.tokens.get(request.lease_id, (now, 0))[1]
        # As admission.lua: no wait helps. A retry's reservation holds earlier calls'
        # charges: refused below as tokens/min (a wait admits the request anew).
        if not retry and held + extra_tokens > limits.tokens_per_minute:
            headers = _headers(window, limits, now, OVER_TOKEN_LIMIT)
            return AdmitResult(False, OVER_TOKEN_LIMIT, 0, headers)
        if window.token_total + extra_tokens > limits.tokens_per_minute:
            retry_ms = _token_retry_ms(window, limits, extra_tokens, now)
            return AdmitResult(
                False, TOKENS, retry_ms, _headers(window, limits, now, TOKENS, retry_ms)
            )
        at, charged = window.tokens.get(request.lease_id, (now, 0))  # gone: left the window
        window.tokens[request.lease_id] = (at, charged + extra_tokens)
        window.token_total += extra_tokens
        if request.lease_id in window.charged:
            window.charged[request.lease_id] += extra_tokens
        return AdmitResult(True, "", 0, _headers(window, limits, now))

    async def refresh(self, grant: LeaseGrant, *, now_ms: int | None = None) -> bool:
        now = self._now(now_ms)
        window = self._window(grant.request.subject, now)
        if grant.request.lease_id not in window.leases:
            return False
        window.leases[grant.request.lease_id] = now + grant.request.lease_ttl_ms
        return True

    async def release(
        self,
        grant: LeaseGrant,
        actual_tokens: int | None,
        *,
        reserved_tokens: int | None = None,
        now_ms: int | None = None,
    ) -> None:
        request = grant.request
        subject, lease_id, now = request.subject, request.lease_id, self._now(now_ms)
        window = self._window(subject, now)
        window.leases.pop(lease_id, None)
        if lease_id in window.released:
            return
        window.released[lease_id] = now + request.lease_ttl_ms + RELEASE_SLACK_MS
        recorded = window.charged.pop(lease_id, 0)
        if actual_tokens is not None:
            counted = request.tokens if reserved_tokens is None else reserved_tokens
            window.settle(lease_id, actual_tokens, max(recorded, counted), now)

    async def active_leases(self, subject: LimitSubject, *, now_ms: int | None = None) -> int:
        if subject.key not in self._windows:
            return 0
        return len(self._window(subject, self._now(now_ms)).leases)


def _check(window: _Window, request: AdmitRequest, now: int) -> tuple[str, int]:
    """The first violated limit and when to retry; concurrency first so it charges nothing."""
    limits, tokens = request.limits, request.tokens
    if tokens > limits.tokens_per_minute:  # fits no window: the caller must ask for less
        return OVER_TOKEN_LIMIT, 0
    if len(window.leases) + request.held_elsewhere >= limits.concurrency:
        soonest = min(window.leases.values(), default=now + 1000)
        return CONCURRENCY, max(min(1000, soonest - now), 1)
    count = len(window.requests)
    if count >= limits.requests_per_minute:
        if limits.requests_per_minute == 0:
            return REQUESTS, WINDOW_MS
        at = window.requests[count - limits.requests_per_minute][0]
        return REQUESTS, at + WINDOW_MS - now
    if window.token_total + tokens > limits.tokens_per_minute:
        return TOKENS, _token_retry_ms(window, limits, tokens, now)
    return "", 0


def _token_retry_ms(window: _Window, limits: TierLimits, tokens: int, now: int) -> int:
    """When enough old reservations leave the window for ``tokens`` to fit."""
    need, freed = window.token_total + tokens - limits.tokens_per_minute, 0
    for at, amount in window.tokens.values():
        freed += amount
        if freed >= need:
            return at + WINDOW_MS - now
    return WINDOW_MS


def _headers(
    window: _Window, limits: TierLimits, now: int, violation: str = "", retry_ms: int = 0
) -> RateLimitHeaders:
    """Each window's count and when its oldest charge leaves (a full window if none)."""
    first_request = window.requests[0][0] if window.requests else now
    first_tokens = next(iter(window.tokens.values()))[0] if window.tokens else now
    return rate_limit_headers(
        limits,
        limit_window(
            limits.requests_per_minute, len(window.requests), first_request + WINDOW_MS - now
        ),
        limit_window(limits.tokens_per_minute, window.token_total, first_tokens + WINDOW_MS - now),
        violation,
        retry_ms,
    )
