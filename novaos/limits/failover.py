"""Admission that follows the storage failover: Redis when healthy, memory when not."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import replace

from novaos.errors import RateLimitHeaders, StorageUnavailableError
from novaos.limits.model import (
    AdmissionBackend,
    AdmitRequest,
    AdmitResult,
    BackendSwitch,
    LeaseGrant,
    LimitSubject,
)
from novaos.tasks import cancel_and_wait, detached

log = logging.getLogger("novaos.limits")

# What a lease taken back after a timed-out admission was granted is unknown;
# a release reads only the request.
_UNKNOWN = AdmitResult(False, "", 0, RateLimitHeaders(0, 0, 0))
_RETRY_MAX_S = 1.0
TAKE_BACK_TASK = "lease-take-back"
CATCH_UP_TASK = "lease-catch-up"


class FailoverAdmission:
    """``AdmissionBackend`` choosing ``primary`` or ``fallback`` per admission.

    A failing primary flips the shared switch (the ``FailoverStore``), so the
    request that noticed the outage is served from memory instead of failing.
    Refresh and release go to whichever backend granted the lease; a lease
    granted in memory that outlives the outage is also registered in Redis by
    its next refresh, and released there too (``_OutageLeases``).

    When Redis is back, the leases this process still runs (granted by memory
    during the outage, or by a Redis that restarted empty) are registered there
    at once, and the next admission here waits for that: until each one's next
    refresh Redis would not count them, and would admit a full limit beside them
    (to this process, and to every other replica).

    An admission that timed out may still run in Redis (a busy server answers
    late, it is not gone): its lease would then hold a concurrency slot there
    for the lease TTL after the request, served from memory, has ended. So it
    is taken back (released with no tokens used; a no-op if it never ran) as
    soon as Redis answers again, until that TTL has passed anyway.
    """

    name = "failover"

    def __init__(
        self, primary: AdmissionBackend, fallback: AdmissionBackend, switch: BackendSwitch
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._switch = switch
        self._taking_back: set[asyncio.Task[None]] = set()
        self._outage_leases = _OutageLeases(fallback, primary, switch)  # their issuer
        self._redis_leases = _PrimaryLeases(primary, switch)
        self._recoveries = switch.recoveries  # the last comeback caught up with
        self._catching_up: asyncio.Task[None] | None = None
        switch.on_recovery(self._recovered)

    @property
    def active(self) -> AdmissionBackend:
        return self._primary if self._switch.primary_available else self._fallback

    async def admit(self, request: AdmitRequest) -> LeaseGrant | AdmitResult:
        if self._switch.primary_available and self._switch.recoveries != self._recoveries:
            try:
                await self._caught_up()
            except StorageUnavailableError:  # gone again: this request was never sent
                self._switch.primary_failed()
        if self._switch.primary_available:
            try:
                outcome = await self._primary.admit(request)
                if isinstance(outcome, LeaseGrant):
                    return self._redis_leases.granted(outcome)
                return outcome
            except StorageUnavailableError:
                self._switch.primary_failed()
                task = asyncio.create_task(self._take_back(request), name=TAKE_BACK_TASK)
                self._taking_back.add(task)
                task.add_done_callback(self._taking_back.discard)
                # The memory lease gets an id of its own: the take-back's release
                # leaves a tombstone under the timed-out one, which would keep this
                # lease from ever being registered in Redis (and a take-back landing
                # after that registration would remove it again).
                request = replace(request, lease_id=uuid.uuid4().hex)
        # The leases Redis granted that this process still runs count here too:
        # memory starts empty, and would admit a full limit more beside them.
        held = self._redis_leases.held(request.subject)
        outcome = await self._fallback.admit(replace(request, held_elsewhere=held))
        if isinstance(outcome, LeaseGrant):
            return self._outage_leases.granted(outcome)
        return outcome

    def _catch_up(self) -> asyncio.Task[None]:
        """Register in Redis every lease held here, once per comeback: started by the
        comeback itself, or by an admission that finds it not done (the last try
        failed); concurrent admissions wait for the same one (one refresh per lease)."""
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = detached(
                self._register_held(self._switch.recoveries), name=CATCH_UP_TASK
            )
            # A failure nobody awaited (Redis gone again) is not logged as unretrieved:
            # the next admission tries again, or the next comeback does.
            self._catching_up.add_done_callback(_retrieved)
        return self._catching_up

    def _recovered(self) -> None:
        self._catch_up()

    async def _caught_up(self) -> None:
        # Shielded: one admission cancelled must not cancel it for the others.
        await asyncio.shield(self._catch_up())

    async def _register_held(self, recoveries: int) -> None:
        # A refresh registers a lease the script never saw released (a released
        # one leaves a tombstone, so a release racing this is not undone).
        held = [*self._outage_leases.held(), *self._redis_leases.held_grants()]
        await asyncio.gather(*(self._primary.refresh(grant) for grant in held))
        self._recoveries = recoveries  # not on a failure: the next admission tries again
        if held:
            log.info("[STORAGE] %d running leases registered in Redis again", len(held))

    async def _take_back(self, request: AdmitRequest) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + request.lease_ttl_ms / 1000
        grant = LeaseGrant(request, _UNKNOWN, self._primary)
        delay = 0.05
        while loop.time() < until:
            try:
                await self._primary.release(grant, 0)
                return
            except StorageUnavailableError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
        log.debug("lease %s left to its TTL: Redis did not answer", request.lease_id)

    async def aclose(self) -> None:
        """Stop taking back timed-out admissions (shutdown): those end with their TTL.
        Left running, each would keep calling Redis for up to LEASE_TTL_MS."""
        await cancel_and_wait(*self._taking_back)
        if self._catching_up is not None:
            await cancel_and_wait(self._catching_up)

    async def top_up(
        self,
        grant: LeaseGrant,
        extra_tokens: int,
        *,
        retry: bool = False,
        now_ms: int | None = None,
    ) -> AdmitResult:
        return await grant.issuer.top_up(grant, extra_tokens, retry=retry, now_ms=now_ms)

    async def refresh(self, grant: LeaseGrant, *, now_ms: int | None = None) -> bool:
        return await grant.issuer.refresh(grant, now_ms=now_ms)

    async def release(
        self,
        grant: LeaseGrant,
        actual_tokens: int | None,
        *,
        reserved_tokens: int | None = None,
        now_ms: int | None = None,
    ) -> None:
        await grant.issuer.release(
            grant, actual_tokens, reserved_tokens=reserved_tokens, now_ms=now_ms
        )

    async def active_leases(self, subject: LimitSubject, *, now_ms: int | None = None) -> int:
        if self._switch.primary_available:
            return await self._primary.active_leases(subject, now_ms=now_ms)
        held = self._redis_leases.held(subject)
        return held + await self._fallback.active_leases(subject, now_ms=now_ms)


def _retrieved(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


class _OutageLeases:
    """The issuer of leases the memory fallback granted during an outage.

    Such a lease may outlive the outage. Redis must then count it too, or it
    admits another request in its slot (a concurrency limit of 1 would let two
    streams run): its next refresh registers it in Redis (the script registers a
    lease it never saw released), and its release drops it there as well. Its
    tokens stay in memory, as every counter of the outage does.
    """

    def __init__(
        self, fallback: AdmissionBackend, primary: AdmissionBackend, switch: BackendSwitch
    ) -> None:
        self.name = fallback.name
        self._fallback, self._primary, self._switch = fallback, primary, switch
        self._held: dict[str, LeaseGrant] = {}  # lease id -> grant, until released

    def granted(self, grant: LeaseGrant) -> LeaseGrant:
        """``grant`` issued by this object, and held until released."""
        mine = replace(grant, issuer=self)
        self._held[grant.request.lease_id] = mine
        return mine

    def held(self) -> list[LeaseGrant]:
        return list(self._held.values())

    async def admit(self, request: AdmitRequest) -> LeaseGrant | AdmitResult:
        return await self._fallback.admit(request)

    async def top_up(
        self,
        grant: LeaseGrant,
        extra_tokens: int,
        *,
        retry: bool = False,
        now_ms: int | None = None,
    ) -> AdmitResult:
        return await self._fallback.top_up(grant, extra_tokens, retry=retry, now_ms=now_ms)

    async def refresh(self, grant: LeaseGrant, *, now_ms: int | None = None) -> bool:
        alive = await self._fallback.refresh(grant, now_ms=now_ms)
        if alive and self._switch.primary_available:
            with contextlib.suppress(StorageUnavailableError):
                await self._primary.refresh(grant, now_ms=now_ms)
        return alive

    async def release(
        self,
        grant: LeaseGrant,
        actual_tokens: int | None,
        *,
        reserved_tokens: int | None = None,
        now_ms: int | None = None,
    ) -> None:
        self._held.pop(grant.request.lease_id, None)
        await self._fallback.release(
            grant, actual_tokens, reserved_tokens=reserved_tokens, now_ms=now_ms
        )
        if self._switch.primary_available:
            # Registered there by a refresh or not, a release is harmless; if Redis
            # does not answer, a registered lease ends with its TTL.
            with contextlib.suppress(StorageUnavailableError):
                await self._primary.release(grant, None, now_ms=now_ms)

    async def active_leases(self, subject: LimitSubject, *, now_ms: int | None = None) -> int:
        return await self._fallback.active_leases(subject, now_ms=now_ms)


class _PrimaryLeases:
    """The issuer of leases the primary (Redis) granted, and which of them this
    process holds (granted, not yet released), for the fallback to count.

    Once the store has switched to memory, Redis is down or stalled: a release
    sent there would hold the request's end (the trailers) for up to
    REDIS_COMMAND_TIMEOUT_MS, as would a top-up mid-stream. They fail at once as
    unavailable instead: the limiter then retries the release in the background
    (it reaches Redis once the switch is back, until the lease's TTL ends it
    anyway), a top-up keeps serving and a refresh is tried again later, as on
    any Redis failure.
    """

    def __init__(self, primary: AdmissionBackend, switch: BackendSwitch) -> None:
        self.name = primary.name
        self._primary, self._switch = primary, switch
        self._held: dict[LimitSubject, dict[str, LeaseGrant]] = {}

    def granted(self, grant: LeaseGrant) -> LeaseGrant:
        """``grant`` issued by this object, and counted as held until released."""
        mine = replace(grant, issuer=self)
        self._held.setdefault(grant.request.subject, {})[grant.request.lease_id] = mine
        return mine

    def held(self, subject: LimitSubject) -> int:
        return len(self._held.get(subject, ()))

    def held_grants(self) -> list[LeaseGrant]:
        return [grant for grants in self._held.values() for grant in grants.values()]

    def _check(self) -> None:
        if not self._switch.primary_available:
            raise StorageUnavailableError(f"{self.name} unavailable: serving from memory")

    async def admit(self, request: AdmitRequest) -> LeaseGrant | AdmitResult:
        return await self._primary.admit(request)

    async def top_up(
        self,
        grant: LeaseGrant,
        extra_tokens: int,
        *,
        retry: bool = False,
        now_ms: int | None = None,
    ) -> AdmitResult:
        self._check()
        return await self._primary.top_up(grant, extra_tokens, retry=retry, now_ms=now_ms)

    async def refresh(self, grant: LeaseGrant, *, now_ms: int | None = None) -> bool:
        self._check()
        return await self._primary.refresh(grant, now_ms=now_ms)

    async def release(
        self,
        grant: LeaseGrant,
        actual_tokens: int | None,
        *,
        reserved_tokens: int | None = None,
        now_ms: int | None = None,
    ) -> None:
        # Its request has ended, whether or not Redis hears of it now (a release that
        # fails is retried, for Redis's sake): the fallback no longer counts it.
        subject, lease_id = grant.request.subject, grant.request.lease_id
        held = self._held.get(subject)
        if held is not None:
            held.pop(lease_id, None)
            if not held:
                del self._held[subject]
        self._check()
        await self._primary.release(
            grant, actual_tokens, reserved_tokens=reserved_tokens, now_ms=now_ms
        )

    async def active_leases(self, subject: LimitSubject, *, now_ms: int | None = None) -> int:
        return await self._primary.active_leases(subject, now_ms=now_ms)
