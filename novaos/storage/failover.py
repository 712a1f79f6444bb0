"""Redis down -> serve from memory, reconnect in the background, switch back.

The guide's recovery rule: when Redis is unreachable NovaOS logs
``[STORAGE] Redis connection failed, using in-memory fallback`` and keeps
serving; when Redis answers again it is used again. The limiter follows the
same switch (``primary_available`` / ``primary_failed``), so limits are global
again as soon as this store is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from novaos.errors import StorageUnavailableError
from novaos.ports import KeyValueStore, StoreHealth
from novaos.storage.memory import MemoryStore

log = logging.getLogger("novaos.storage")

FALLBACK_MESSAGE = "[STORAGE] Redis connection failed, using in-memory fallback"
RESTORED_MESSAGE = "[STORAGE] Redis connection restored, leaving in-memory fallback"

T = TypeVar("T")


class PrimaryStore(KeyValueStore, Protocol):
    """A store that can say cheaply whether it answers (Redis PING)."""

    async def ping(self) -> bool: ...


class StorageObserver(Protocol):
    """Told when the fallback starts and ends (the Prometheus gauge implements it)."""

    def fallback_active(self, active: bool) -> None: ...


class NullStorageObserver:
    def fallback_active(self, active: bool) -> None:
        return None


class FailoverStore:
    """``KeyValueStore`` that prefers ``primary`` and falls back to memory."""

    def __init__(
        self,
        primary: PrimaryStore,
        *,
        fallback: MemoryStore | None = None,
        min_backoff_s: float = 0.1,
        max_backoff_s: float = 2.0,
        observer: StorageObserver | None = None,
    ) -> None:
        self._primary = primary
        self.backend = primary.backend
        self._fallback = fallback or MemoryStore()
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self._observer = observer or NullStorageObserver()
        self._in_fallback = False
        self._reconnect: asyncio.Task[None] | None = None

    @property
    def primary(self) -> PrimaryStore:
        return self._primary

    @property
    def primary_available(self) -> bool:
        return not self._in_fallback

    def primary_failed(self) -> None:
        """Switch to memory (once per outage) and start probing the primary."""
        if self._in_fallback:
            return
        self._in_fallback = True
        log.warning(FALLBACK_MESSAGE)
        self._observer.fallback_active(True)
        self._reconnect = asyncio.create_task(self._reconnect_loop(), name="redis-reconnect")

    async def connect(self) -> None:
        """Probe once at start so an absent Redis is reported at boot, not on first use."""
        if not await self._primary.ping():
            self.primary_failed()

    async def _reconnect_loop(self) -> None:
        delay = self._min_backoff_s
        while True:
            await asyncio.sleep(delay)
            if await self._primary.ping():
                break
            delay = min(delay * 2, self._max_backoff_s)
        # Memory-held data would resurface at the next outage as stale state.
        self._fallback.clear()
        self._in_fallback = False
        self._reconnect = None
        log.info(RESTORED_MESSAGE)
        self._observer.fallback_active(False)

    async def _call(self, op: Callable[[KeyValueStore], Awaitable[T]]) -> T:
        if not self._in_fallback:
            try:
                return await op(self._primary)
            except StorageUnavailableError:
                self.primary_failed()
        return await op(self._fallback)

    async def get(self, key: str) -> bytes | None:
        return await self._call(lambda s: s.get(key))

    async def set(
        self, key: str, value: bytes, *, ttl_ms: int | None = None, nx: bool = False
    ) -> bool:
        return await self._call(lambda s: s.set(key, value, ttl_ms=ttl_ms, nx=nx))

    async def delete(self, *keys: str) -> int:
        return await self._call(lambda s: s.delete(*keys))

    async def incr(self, key: str, amount: int = 1, *, ttl_ms: int | None = None) -> int:
        return await self._call(lambda s: s.incr(key, amount, ttl_ms=ttl_ms))

    async def list_push(
        self, key: str, value: bytes, *, max_len: int, ttl_ms: int | None = None
    ) -> None:
        await self._call(lambda s: s.list_push(key, value, max_len=max_len, ttl_ms=ttl_ms))

    async def list_range(self, key: str, start: int = 0, end: int = -1) -> list[bytes]:
        return await self._call(lambda s: s.list_range(key, start, end))

    async def health(self) -> StoreHealth:
        if self._in_fallback:
            return StoreHealth(backend=self.backend, status="fallback")
        health = await self._primary.health()
        if health.status != "ok":
            self.primary_failed()
            return StoreHealth(backend=self.backend, status="fallback")
        return health

    async def aclose(self) -> None:
        task, self._reconnect = self._reconnect, None
        if task is not None:
            task.cancel()
            # wait() does not raise the task's own cancel; a cancel of aclose still does.
            await asyncio.wait({task})
        await self._primary.aclose()
        await self._fallback.aclose()
