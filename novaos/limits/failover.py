"""Admission that follows the storage failover: Redis when healthy, memory when not."""

from __future__ import annotations

from novaos.errors import StorageUnavailableError
from novaos.limits.model import (
    AdmissionBackend,
    AdmitRequest,
    AdmitResult,
    BackendSwitch,
    LeaseGrant,
    LimitSubject,
)


class FailoverAdmission:
    """``AdmissionBackend`` choosing ``primary`` or ``fallback`` per admission.

    A failing primary flips the shared switch (the ``FailoverStore``), so the
    request that noticed the outage is served from memory instead of failing.
    Refresh and release go to whichever backend granted the lease.
    """

    name = "failover"

    def __init__(
        self, primary: AdmissionBackend, fallback: AdmissionBackend, switch: BackendSwitch
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._switch = switch

    @property
    def active(self) -> AdmissionBackend:
        return self._primary if self._switch.primary_available else self._fallback

    async def admit(self, request: AdmitRequest) -> LeaseGrant | AdmitResult:
        if self._switch.primary_available:
            try:
                return await self._primary.admit(request)
            except StorageUnavailableError:
                self._switch.primary_failed()
        return await self._fallback.admit(request)

    async def top_up(
        self, grant: LeaseGrant, extra_tokens: int, *, now_ms: int | None = None
    ) -> AdmitResult:
        return await grant.issuer.top_up(grant, extra_tokens, now_ms=now_ms)

    async def refresh(self, grant: LeaseGrant, *, now_ms: int | None = None) -> bool:
        return await grant.issuer.refresh(grant, now_ms=now_ms)

    async def release(
        self, grant: LeaseGrant, actual_tokens: int | None, *, now_ms: int | None = None
    ) -> None:
        await grant.issuer.release(grant, actual_tokens, now_ms=now_ms)

    async def active_leases(self, subject: LimitSubject, *, now_ms: int | None = None) -> int:
        return await self.active.active_leases(subject, now_ms=now_ms)
