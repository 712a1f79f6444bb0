"""Admission types: who is limited, what a backend decides, and the ports.

A ``Limiter`` hands out leases; an ``AdmissionBackend`` holds the counters
(Redis script, or memory) and decides atomically. The limiter owns lifecycle
(refresh while held, release on any exit); backends own arithmetic.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from novaos.domain import Tier
from novaos.errors import LimitWindow, RateLimitHeaders
from novaos.limits.tiers import TierLimits

REQUESTS = "requests_per_minute"
TOKENS = "tokens_per_minute"
CONCURRENCY = "concurrency"
# Not a limit but a refusal of its own: the request reserves more tokens than the
# whole tokens/min limit, so no wait can ever admit it (nothing charged, no retry).
OVER_TOKEN_LIMIT = "over_token_limit"

# A backend remembers a release for a lease TTL after the limiter last may send it
# again (``AdmissionBackend.release``), and this much more: for clocks and timers
# that do not tick together.
RELEASE_SLACK_MS = 1000

_SAFE_SUBJECT = re.compile(r"^[A-Za-z0-9._:@|-]{1,128}$")


@dataclass(frozen=True, slots=True)
class LimitSubject:
    """Who is limited: JWT ``sub``, or the client IP when anonymous. Counters are
    the subject's (``key``) whatever tier its token names; ``tier`` only picks the
    numbers, so tokens of several tiers for one ``sub`` share one budget."""

    key: str
    tier: Tier


def subject_tag(key: str) -> str:
    """A key fragment safe inside a Redis hash tag (no braces, bounded length)."""
    if _SAFE_SUBJECT.match(key):
        return key
    return "h." + hashlib.sha256(key.encode()).hexdigest()[:32]


def limit_keys(subject: LimitSubject) -> tuple[str, str, str, str]:
    """Requests zset, token zset, token amounts hash, lease zset.

    The ``{tag}`` hash tag puts all four in one Redis Cluster slot, which a
    multi-key script requires. Keyed by the subject alone, not its tier: a ``sub``
    holding a free, a pro and an enterprise token (or an old token after a
    downgrade) got each tier's limits on top of the others'. Earlier releases'
    keys (``nova:lim:{sub}:<tier>:...``) are no longer read; they expire within a
    window (leases within a lease TTL).
    """
    base = f"nova:lim:{{{subject_tag(subject.key)}}}"
    return f"{base}:req", f"{base}:tok", f"{base}:amt", f"{base}:lease"


@dataclass(frozen=True, slots=True)
class AdmitRequest:
    subject: LimitSubject
    limits: TierLimits
    lease_id: str
    tokens: int  # reserved up front: known prompt + max output (topped up before the upstream)
    lease_ttl_ms: int
    now_ms: int | None = None  # tests drive a simulated clock; None = backend clock
    # Leases of this subject that count towards its concurrency though the backend
    # does not hold them: Redis's, still running here while memory serves an outage.
    held_elsewhere: int = 0


@dataclass(frozen=True, slots=True)
class AdmitResult:
    admitted: bool
    violation: str  # "" when admitted, else REQUESTS | TOKENS | CONCURRENCY | OVER_TOKEN_LIMIT
    retry_after_ms: int
    headers: RateLimitHeaders


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    """An admitted request; released through the backend that granted it."""

    request: AdmitRequest
    result: AdmitResult
    issuer: AdmissionBackend


def limit_window(limit: int, used: int, reset_ms: int) -> LimitWindow:
    """A sliding window as a client sees it; ``reset_ms``: until its oldest charge leaves."""
    return LimitWindow(limit, max(limit - used, 0), max((reset_ms + 999) // 1000, 0))


def rate_limit_headers(
    limits: TierLimits,
    requests: LimitWindow,
    tokens: LimitWindow,
    violation: str,
    retry_after_ms: int,
) -> RateLimitHeaders:
    """What an admission answers with, the same for every backend.

    Admitted: the guide's three headers describe requests/min, as they always
    have. Refused: they describe the limit that refused, so a 429 never shows
    quota left; its reset, and that limit's own ``-requests`` / ``-tokens`` reset,
    is when it would admit this call (Retry-After, rounded up the same way).
    """
    if not violation:
        return RateLimitHeaders(
            requests.limit, requests.remaining, requests.reset_s, requests, tokens
        )
    if violation == OVER_TOKEN_LIMIT:
        # No wait admits it: the token window as it stands, no reset to wait for.
        return RateLimitHeaders(tokens.limit, tokens.remaining, tokens.reset_s, requests, tokens)
    retry_s = max((retry_after_ms + 999) // 1000, 1)
    if violation == REQUESTS:
        requests = LimitWindow(requests.limit, requests.remaining, retry_s)
    elif violation == TOKENS:
        tokens = LimitWindow(tokens.limit, tokens.remaining, retry_s)
    size = {
        REQUESTS: limits.requests_per_minute,
        TOKENS: limits.tokens_per_minute,
        CONCURRENCY: limits.concurrency,
    }[violation]
    return RateLimitHeaders(size, 0, retry_s, requests, tokens)


class AdmissionBackend(Protocol):
    name: str

    async def admit(self, request: AdmitRequest) -> LeaseGrant | AdmitResult:
        """A grant when admitted (everything charged), else the refusal (nothing charged)."""
        ...

    async def top_up(
        self,
        grant: LeaseGrant,
        extra_tokens: int,
        *,
        retry: bool = False,
        now_ms: int | None = None,
    ) -> AdmitResult:
        """Add ``extra_tokens`` to the lease's reservation if tokens/min allows, atomically.

        Refused (``TOKENS``): nothing charged. Only the token limit is checked:
        the request and its concurrency slot were counted at admission. A lease
        whose whole reservation would be over the limit is refused as
        ``OVER_TOKEN_LIMIT`` (no wait admits it), except for a ``retry``: a later
        model call of the request (failover, regeneration), whose reservation
        holds what the earlier calls are charged; the request asked again from
        the start reserves one call, so that is ``TOKENS``, with when to retry.
        """
        ...

    async def refresh(self, grant: LeaseGrant, *, now_ms: int | None = None) -> bool:
        """Push the lease expiry out by its TTL; False if it had already expired."""
        ...

    async def release(
        self,
        grant: LeaseGrant,
        actual_tokens: int | None,
        *,
        reserved_tokens: int | None = None,
        now_ms: int | None = None,
    ) -> None:
        """Drop the lease; replace the token reservation by ``actual_tokens`` if given.

        ``reserved_tokens``: what the lease was charged in all, admission and top-ups,
        as the caller counts it (None: the admission's alone). The backend goes by its
        own record of that, kept while the lease is (in Redis a window longer), since a
        top-up it ran but whose answer was lost is missing from the caller's count;
        the caller's count serves where it is more (a record Redis lost in a restart).
        What of the charge already left the window counted for its minute, so the
        window is charged the usage beyond that: a request longer than the window is
        charged its usage above the reservation when it ends, not never. That is no
        idempotent write: a release is applied once, and one sent again (a retry
        whose answer was lost) changes nothing as long as the limiter may send it, a
        lease TTL after its first sending, and the time a call takes to reach the
        store on top (``RELEASE_SLACK_MS``).
        """
        ...

    async def active_leases(self, subject: LimitSubject, *, now_ms: int | None = None) -> int: ...


class Lease:
    """Yielded by ``Limiter.hold``; ``settle`` records real usage for the release.

    ``reserve`` grows the reservation once the real prompt is known (the
    ``TokenBudget`` port the pipeline calls before each upstream call). The
    release charges the settled usage, even above ``reserved_tokens``: an
    estimate that fell short (a tokenizer counts differently) must not hide
    tokens really spent, or a client whose text is underestimated would get
    more than its limit every minute. The window then stays over the limit
    until those tokens age out, refusing what follows.
    """

    def __init__(
        self,
        headers: RateLimitHeaders,
        reserved_tokens: int,
        grow: Callable[[int, bool], Awaitable[None]] | None = None,
    ) -> None:
        self.headers = headers
        self.reserved_tokens = reserved_tokens
        self.actual_tokens: int | None = None
        self._grow = grow
        self.growing: asyncio.Task[object] | None = None  # a top-up the release must wait for

    async def reserve(self, total_tokens: int, *, retry: bool = False) -> None:
        """Grow the reservation to ``total_tokens``; ``RateLimitedError`` if over the
        limit (``OverTokenLimitError`` over the whole limit, unless a ``retry``: see
        ``AdmissionBackend.top_up``). Already covered: nothing to do, no round trip."""
        extra = int(total_tokens) - self.reserved_tokens
        if extra <= 0:
            return
        if self._grow is None:
            raise RuntimeError("this lease cannot grow")
        await self._grow(extra, retry)

    def settle(self, actual_tokens: int) -> None:
        self.actual_tokens = max(int(actual_tokens), 0)

    @property
    def charge(self) -> int | None:
        """What the release records: the settled usage (None: keep the reservation)."""
        return self.actual_tokens


class Limiter(Protocol):
    def hold(
        self, subject: LimitSubject, estimated_tokens: int, advice: str = ""
    ) -> AbstractAsyncContextManager[Lease]:
        """``advice``: what to make smaller, named when the reservation is over
        the tier's whole tokens/min limit (``token_bound``)."""
        ...

    def token_bound(self, tier: Tier) -> int:
        """The largest reservation one request of ``tier`` can ever be admitted with."""
        ...

    async def aclose(self) -> None: ...


class LimitObserver(Protocol):
    """Counts refusals: ``rate_limit_exceeded_total{tier,limit}``."""

    def limit_exceeded(self, tier: str, limit: str) -> None: ...


class NullLimitObserver:
    def limit_exceeded(self, tier: str, limit: str) -> None:
        return None


class BackendSwitch(Protocol):
    """The storage failover state the limiter follows (``FailoverStore`` implements it)."""

    @property
    def primary_available(self) -> bool: ...

    @property
    def recoveries(self) -> int:
        """How many times the primary has come back; each time it may have lost
        what it held (a restart), or never seen what memory granted meanwhile."""
        ...

    def primary_failed(self) -> None: ...

    def on_recovery(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the event loop) each time the primary is back."""
        ...
