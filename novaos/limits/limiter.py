"""Leases around a whole request: admit, refresh while held, release on any exit.

Cancellation safety: the backend calls run in tasks this limiter keeps
(``_pending``) and awaits through ``asyncio.shield``. A cancel that lands while
the admission script is in flight therefore cannot leave a charged lease
behind: the admission completes and is undone. A cancel during release cannot
skip it: the release task runs to the end. ``aclose`` drains what is left.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from novaos.domain import RequestContext, Tier
from novaos.errors import (
    OverTokenLimitError,
    QuotaViolation,
    RateLimitedError,
    StorageUnavailableError,
)
from novaos.limits.memory import MemoryAdmission
from novaos.limits.model import (
    OVER_TOKEN_LIMIT,
    TOKENS,
    AdmissionBackend,
    AdmitRequest,
    AdmitResult,
    Lease,
    LeaseGrant,
    Limiter,
    LimitObserver,
    LimitSubject,
    NullLimitObserver,
)
from novaos.limits.tiers import TierLimits
from novaos.tasks import cancel_and_wait, detached

log = logging.getLogger("novaos.limits")
# A release Redis did not answer is retried, backing off between these.
_RELEASE_RETRY_MIN_S = 0.05
_RELEASE_RETRY_MAX_S = 1.0

T = TypeVar("T")

_DESCRIPTIONS = {
    "requests_per_minute": "requests per minute",
    "tokens_per_minute": "tokens per minute",
    "concurrency": "concurrent requests",
}


class _Refresher:
    """Keeps one lease alive while it is held.

    Armed as a timer; the refresh task starts only when the first refresh is
    due (a third of the TTL), so the many requests shorter than that cost a
    timer handle rather than a task that is created, run and cancelled."""

    def __init__(self, limiter: LeaseLimiter, grant: LeaseGrant) -> None:
        self._limiter, self._grant = limiter, grant
        self.task: asyncio.Task[None] | None = None
        self.interval_s = grant.request.lease_ttl_ms / 3000
        self._timer = asyncio.get_running_loop().call_later(self.interval_s, self._start)
        limiter._refreshers.add(self)

    def _start(self) -> None:
        self.task = asyncio.create_task(self._limiter._refresh_loop(self._grant, self.interval_s))

    def cancel(self) -> None:
        self._timer.cancel()
        self._limiter._refreshers.discard(self)
        if self.task is not None:
            self.task.cancel()

    async def stopped(self) -> None:
        """Cancel, and wait for a refresh that is under way to end (again and
        again if the cancel is lost in a Redis call: see ``novaos.tasks``)."""
        self.cancel()
        if self.task is not None:
            await cancel_and_wait(self.task)


class LeaseLimiter:
    """``Limiter`` over any ``AdmissionBackend`` (Redis script, memory, failover)."""

    def __init__(
        self,
        backend: AdmissionBackend,
        limits: Mapping[Tier, TierLimits],
        *,
        lease_ttl_ms: int,
        observer: LimitObserver | None = None,
    ) -> None:
        self._backend = backend
        # A backend whose calls finish without suspending (the in-process one)
        # cannot be interrupted half-way, so its calls need no task and shield:
        # each one saves the request a task and a turn of the event loop.
        self._inline = bool(getattr(backend, "completes_without_suspending", False))
        self._limits = dict(limits)
        self._ttl_ms = lease_ttl_ms
        self._observer = observer or NullLimitObserver()
        self._pending: set[asyncio.Task[Any]] = set()  # admit, undo, release
        # Releases the store did not answer, retried by one background task:
        # lease id -> (grant, tokens to charge, tokens charged, loop time its TTL ends it,
        # counted from the first sending).
        self._unreleased: dict[str, tuple[LeaseGrant, int | None, int, float]] = {}
        self._release_retry: asyncio.Task[None] | None = None
        self._refreshers: set[_Refresher] = set()  # of leases held now

    @property
    def backend(self) -> AdmissionBackend:
        return self._backend

    def _keep(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    def token_bound(self, tier: Tier) -> int:
        """The largest reservation one request of ``tier`` can ever be admitted with."""
        return self._limits[tier].tokens_per_minute

    @asynccontextmanager
    async def hold(
        self, subject: LimitSubject, estimated_tokens: int, advice: str = ""
    ) -> AsyncIterator[Lease]:
        request = AdmitRequest(
            subject=subject,
            limits=self._limits[subject.tier],
            lease_id=uuid.uuid4().hex,
            tokens=max(int(estimated_tokens), 0),
            lease_ttl_ms=self._ttl_ms,
        )
        grant = await self._admit(request, advice)

        async def grow(extra: int, retry: bool) -> None:
            await self._top_up(grant, lease, extra, retry)

        lease = Lease(grant.result.headers, request.tokens, grow)
        refresher = _Refresher(self, grant)
        try:
            yield lease
        finally:
            if self._inline:  # nothing to wait for: an inline refresh never suspends
                refresher.cancel()
                await self._release(grant, self._charge(grant, lease), lease.reserved_tokens)
            else:
                # Shielded: a second cancel while we wait leaves the release running.
                await asyncio.shield(self._keep(self._finish(grant, refresher, lease)))

    async def _admit(self, request: AdmitRequest, advice: str) -> LeaseGrant:
        if self._inline:
            outcome = await self._backend.admit(request)
            if isinstance(outcome, AdmitResult):
                raise self._refusal(request, outcome, request.tokens, advice)
            return outcome
        admitting = self._keep(self._backend.admit(request))
        try:
            outcome = await asyncio.shield(admitting)
        except asyncio.CancelledError:
            # The script may already have charged: undo it once it answers.
            self._keep(self._undo(admitting))
            raise
        if isinstance(outcome, AdmitResult):
            raise self._refusal(request, outcome, request.tokens, advice)
        return outcome

    async def _top_up(self, grant: LeaseGrant, lease: Lease, extra: int, retry: bool) -> None:
        # Like admission: inline when the backend cannot suspend, else shielded, so
        # a cancel cannot leave a top-up half seen; the release then waits for it
        # (``lease.growing``) before reconciling.
        if self._inline:
            refused = await self._charge_more(grant, lease, extra, retry)
        else:
            charging = self._charge_more(grant, lease, extra, retry)
            lease.growing = growing = self._keep(charging)
            refused = await asyncio.shield(growing)
        if refused is not None:
            raise self._refusal(grant.request, refused, lease.reserved_tokens + extra)

    async def _charge_more(
        self, grant: LeaseGrant, lease: Lease, extra: int, retry: bool
    ) -> AdmitResult | None:
        try:
            result = await grant.issuer.top_up(grant, extra, retry=retry)
        except StorageUnavailableError:
            # As with refresh: Redis went away mid-request; keep serving. The
            # reservation stays as it was, and the next reserve() asks again. The
            # top-up may have run all the same (its answer lost): the store then
            # counts it in what its release reconciles, not this count.
            log.debug("lease top-up failed: storage unavailable")
            return None
        if not result.admitted:
            return result
        lease.reserved_tokens += extra
        return None

    def _refusal(
        self, request: AdmitRequest, result: AdmitResult, needed: int, advice: str = ""
    ) -> RateLimitedError | OverTokenLimitError:
        tier = request.subject.tier.value
        if result.violation == OVER_TOKEN_LIMIT:
            return _over_limit(request, result, needed, advice)
        self._observer.limit_exceeded(tier, result.violation)
        violation = QuotaViolation(
            subject=request.subject.key,
            limit=result.violation,
            description=f"{tier} tier limit of {_DESCRIPTIONS[result.violation]} reached",
        )
        return RateLimitedError(
            f"rate limit exceeded: {result.violation}",
            violation=violation,
            retry_after_s=max(result.retry_after_ms, 0) / 1000,
            headers=result.headers,
        )

    async def _undo(self, admitting: asyncio.Task[LeaseGrant | AdmitResult]) -> None:
        try:
            outcome = await admitting
        except (StorageUnavailableError, asyncio.CancelledError):
            return  # nothing charged that a TTL will not clean up
        if isinstance(outcome, LeaseGrant):
            # The caller never saw the lease, so it used no tokens.
            await self._release(outcome, 0, outcome.request.tokens)

    async def _refresh_loop(self, grant: LeaseGrant, interval_s: float) -> None:
        """Refresh now (the first refresh is due), then every ``interval_s``."""
        while True:
            try:
                if not await grant.issuer.refresh(grant):
                    log.warning("lease %s expired before refresh", grant.request.lease_id)
                    return
            except StorageUnavailableError:
                # Redis is down: the lease dies with its TTL; keep serving.
                log.debug("lease refresh failed: storage unavailable")
            await asyncio.sleep(interval_s)

    async def _finish(self, grant: LeaseGrant, refresher: _Refresher, lease: Lease) -> None:
        await refresher.stopped()
        if lease.growing is not None:
            await asyncio.wait({lease.growing})
        await self._release(grant, self._charge(grant, lease), lease.reserved_tokens)

    @staticmethod
    def _charge(grant: LeaseGrant, lease: Lease) -> int | None:
        if lease.actual_tokens is not None and lease.actual_tokens > lease.reserved_tokens:
            log.warning(
                "lease %s used %d tokens but reserved %d; charging the usage",
                grant.request.lease_id,
                lease.actual_tokens,
                lease.reserved_tokens,
            )
        return lease.charge

    async def _release(self, grant: LeaseGrant, actual_tokens: int | None, reserved: int) -> None:
        # Counted from this first sending, not from its failure (up to a command
        # timeout later): the store remembers a release only so long past it
        # (``AdmissionBackend.release``), and one sent again after that would be
        # applied twice.
        until = asyncio.get_running_loop().time() + grant.request.lease_ttl_ms / 1000
        try:
            await grant.issuer.release(grant, actual_tokens, reserved_tokens=reserved)
        except StorageUnavailableError:
            # Left to its TTL, the lease would hold a concurrency slot for up to
            # LEASE_TTL_MS after the request ended: retried in the background (the
            # request does not wait for a stalled Redis), until the TTL would have
            # ended it anyway. One that ran but whose answer was lost is sent again:
            # the store applies a release once (see above).
            self._unreleased[grant.request.lease_id] = (grant, actual_tokens, reserved, until)
            if self._release_retry is None or self._release_retry.done():
                self._release_retry = detached(self._retry_releases())

    async def _retry_releases(self) -> None:
        """One task for every release waiting on the store: one attempt at a time,
        backing off while the store does not answer, so a stall that ended many
        requests costs neither a task each nor a crowd of attempts at recovery."""
        loop = asyncio.get_running_loop()
        delay = _RELEASE_RETRY_MIN_S
        while self._unreleased:
            await asyncio.sleep(delay)
            answered = True
            for lease_id, (grant, tokens, reserved, until) in list(self._unreleased.items()):
                if loop.time() >= until:
                    self._unreleased.pop(lease_id, None)  # expired by its TTL by now
                    continue
                try:
                    await grant.issuer.release(grant, tokens, reserved_tokens=reserved)
                except StorageUnavailableError:
                    answered = False
                    break  # still down: back off, then go on from here
                self._unreleased.pop(lease_id, None)
            delay = _RELEASE_RETRY_MIN_S if answered else min(delay * 2, _RELEASE_RETRY_MAX_S)

    async def aclose(self) -> None:
        """Wait for in-flight releases and undos (shutdown must not leak leases).

        Call after the server stopped taking requests; leases still held then
        stop being refreshed and expire with their TTL, as do releases Redis did
        not answer by then (they stop retrying).
        """
        while self._pending:
            await asyncio.wait(set(self._pending))
        retry, self._release_retry = self._release_retry, None
        if retry is not None and not retry.done():
            retry.cancel()  # those leases end with their TTL
            await asyncio.wait({retry})
        self._unreleased.clear()
        for refresher in set(self._refreshers):
            await refresher.stopped()


def _over_limit(
    request: AdmitRequest, result: AdmitResult, needed: int, advice: str
) -> OverTokenLimitError:
    """Not a rate limit: no Retry-After, since no wait admits it (it would be retried forever).

    ``advice``: the caller's word on what is too big; without it, what the
    reservation holds (a top-up before the first model call: the prompt as sent,
    with any fetched sources, and max_tokens). A later call's top-up (failover,
    regeneration) is never refused this way: see ``AdmissionBackend.top_up``."""
    tier, limit = request.subject.tier.value, request.limits.tokens_per_minute
    parts = "" if advice else " (the prompt as sent to the model, plus max_tokens)"
    advice = advice or "lower options.max_tokens or shorten the message"
    message = (
        f"this request reserves {needed} tokens{parts}, more than the {tier} tier's whole "
        f"limit of {limit} tokens per minute; it can never be admitted: {advice}"
    )
    violation = QuotaViolation(subject=request.subject.key, limit=TOKENS, description=message)
    return OverTokenLimitError(
        message, violation=violation, reserved=needed, headers=result.headers
    )


class MemoryLimiter(LeaseLimiter):
    """Limits for one process (no Redis configured, or tests)."""

    def __init__(
        self,
        limits: Mapping[Tier, TierLimits],
        *,
        lease_ttl_ms: int,
        observer: LimitObserver | None = None,
    ) -> None:
        super().__init__(MemoryAdmission(), limits, lease_ttl_ms=lease_ttl_ms, observer=observer)


class PrincipalAdmission:
    """The chat service's ``Admission``: limits keyed by the caller and its tier.

    ``Principal.user_id`` is the JWT ``sub``, or ``ip:<client>`` when
    REQUIRE_AUTH=false, so anonymous callers are limited per client address.
    """

    def __init__(self, limiter: Limiter) -> None:
        self._limiter = limiter

    def hold(
        self, ctx: RequestContext, estimated_tokens: int, advice: str = ""
    ) -> AbstractAsyncContextManager[Lease]:
        subject = LimitSubject(ctx.principal.user_id, ctx.principal.tier)
        return self._limiter.hold(subject, estimated_tokens, advice)

    def token_bound(self, ctx: RequestContext) -> int:
        return self._limiter.token_bound(ctx.principal.tier)
