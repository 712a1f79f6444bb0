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
from novaos.errors import QuotaViolation, RateLimitedError, StorageUnavailableError
from novaos.limits.memory import MemoryAdmission
from novaos.limits.model import (
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

log = logging.getLogger("novaos.limits")

T = TypeVar("T")

_DESCRIPTIONS = {
    "requests_per_minute": "requests per minute",
    "tokens_per_minute": "tokens per minute",
    "concurrency": "concurrent requests",
}


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
        self._refreshers: set[asyncio.Task[None]] = set()

    @property
    def backend(self) -> AdmissionBackend:
        return self._backend

    def _keep(self, coro: Coroutine[Any, Any, T], into: set[Any] | None = None) -> asyncio.Task[T]:
        tasks = self._pending if into is None else into
        task = asyncio.create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    @asynccontextmanager
    async def hold(self, subject: LimitSubject, estimated_tokens: int) -> AsyncIterator[Lease]:
        request = AdmitRequest(
            subject=subject,
            limits=self._limits[subject.tier],
            lease_id=uuid.uuid4().hex,
            tokens=max(int(estimated_tokens), 0),
            lease_ttl_ms=self._ttl_ms,
        )
        grant = await self._admit(request)

        async def grow(extra: int) -> None:
            await self._top_up(grant, lease, extra)

        lease = Lease(grant.result.headers, request.tokens, grow)
        refresher = self._keep(self._refresh_loop(grant), self._refreshers)
        try:
            yield lease
        finally:
            if self._inline:  # nothing to wait for: the refresher is asleep between turns
                refresher.cancel()
                await self._release(grant, self._charge(grant, lease))
            else:
                # Shielded: a second cancel while we wait leaves the release running.
                await asyncio.shield(self._keep(self._finish(grant, refresher, lease)))

    async def _admit(self, request: AdmitRequest) -> LeaseGrant:
        if self._inline:
            outcome = await self._backend.admit(request)
            if isinstance(outcome, AdmitResult):
                raise self._refusal(request, outcome)
            return outcome
        admitting = self._keep(self._backend.admit(request))
        try:
            outcome = await asyncio.shield(admitting)
        except asyncio.CancelledError:
            # The script may already have charged: undo it once it answers.
            self._keep(self._undo(admitting))
            raise
        if isinstance(outcome, AdmitResult):
            raise self._refusal(request, outcome)
        return outcome

    async def _top_up(self, grant: LeaseGrant, lease: Lease, extra: int) -> None:
        # Like admission: inline when the backend cannot suspend, else shielded, so
        # a cancel cannot leave a top-up half seen; the release then waits for it
        # (``lease.growing``) before reconciling.
        if self._inline:
            refused = await self._charge_more(grant, lease, extra)
        else:
            lease.growing = growing = self._keep(self._charge_more(grant, lease, extra))
            refused = await asyncio.shield(growing)
        if refused is not None:
            raise self._refusal(grant.request, refused)

    async def _charge_more(self, grant: LeaseGrant, lease: Lease, extra: int) -> AdmitResult | None:
        try:
            result = await grant.issuer.top_up(grant, extra)
        except StorageUnavailableError:
            # As with refresh: Redis went away mid-request; keep serving. Nothing was
            # admitted, so the reservation (what a release may charge) stays as it
            # was, and the next reserve() asks again.
            log.debug("lease top-up failed: storage unavailable")
            return None
        if not result.admitted:
            return result
        lease.reserved_tokens += extra
        return None

    def _refusal(self, request: AdmitRequest, result: AdmitResult) -> RateLimitedError:
        tier = request.subject.tier.value
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
            await self._release(outcome, 0)

    async def _refresh_loop(self, grant: LeaseGrant) -> None:
        interval_s = grant.request.lease_ttl_ms / 3000
        while True:
            await asyncio.sleep(interval_s)
            try:
                if not await grant.issuer.refresh(grant):
                    log.warning("lease %s expired before refresh", grant.request.lease_id)
                    return
            except StorageUnavailableError:
                # Redis is down: the lease dies with its TTL; keep serving.
                log.debug("lease refresh failed: storage unavailable")

    async def _finish(self, grant: LeaseGrant, refresher: asyncio.Task[None], lease: Lease) -> None:
        refresher.cancel()
        await asyncio.wait({refresher})
        if lease.growing is not None:
            await asyncio.wait({lease.growing})
        await self._release(grant, self._charge(grant, lease))

    @staticmethod
    def _charge(grant: LeaseGrant, lease: Lease) -> int | None:
        if lease.actual_tokens is not None and lease.actual_tokens > lease.reserved_tokens:
            log.warning(
                "lease %s used %d tokens but reserved %d; charging the reservation",
                grant.request.lease_id,
                lease.actual_tokens,
                lease.reserved_tokens,
            )
        return lease.charge

    async def _release(self, grant: LeaseGrant, actual_tokens: int | None) -> None:
        try:
            await grant.issuer.release(grant, actual_tokens)
        except StorageUnavailableError:
            log.debug("lease release failed: storage unavailable; the TTL will expire it")

    async def aclose(self) -> None:
        """Wait for in-flight releases and undos (shutdown must not leak leases).

        Call after the server stopped taking requests; leases still held then
        stop being refreshed and expire with their TTL.
        """
        while self._pending:
            await asyncio.wait(set(self._pending))
        for task in set(self._refreshers):
            task.cancel()
        if self._refreshers:
            await asyncio.wait(set(self._refreshers))


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
        self, ctx: RequestContext, estimated_tokens: int
    ) -> AbstractAsyncContextManager[Lease]:
        subject = LimitSubject(ctx.principal.user_id, ctx.principal.tier)
        return self._limiter.hold(subject, estimated_tokens)
