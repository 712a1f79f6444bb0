"""In-process key-value store: dev mode, unit tests and the Redis-down fallback.

Semantics match ``RedisStore`` (see ``novaos.ports.KeyValueStore``): TTLs in
milliseconds, ``incr`` sets its TTL only when it creates the key, ``list_push``
appends, keeps the newest ``max_len`` items and refreshes the TTL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from novaos.ports import StoreHealth

# Expired entries are dropped lazily on read; a full sweep every N writes keeps
# a long outage (fallback mode) from growing memory without bound.
_SWEEP_EVERY = 1024


@dataclass(slots=True)
class _Entry:
    value: bytes | int | list[bytes]
    expires_at: float | None  # clock() seconds, None = no expiry


class MemoryStore:
    """A dict with expiries. Single event loop: no locking needed (no awaits inside)."""

    backend = "memory"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._data: dict[str, _Entry] = {}
        self._writes = 0

    def _live(self, key: str) -> _Entry | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= self._clock():
            del self._data[key]
            return None
        return entry

    def _deadline(self, ttl_ms: int | None) -> float | None:
        return None if ttl_ms is None else self._clock() + ttl_ms / 1000

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            now = self._clock()
            expired = [
                k for k, e in self._data.items() if e.expires_at is not None and e.expires_at <= now
            ]
            for key in expired:
                del self._data[key]

    async def get(self, key: str) -> bytes | None:
        entry = self._live(key)
        if entry is None:
            return None
        if isinstance(entry.value, int):
            return str(entry.value).encode()
        if isinstance(entry.value, list):
            raise TypeError(f"{key} holds a list")
        return entry.value

    async def set(
        self, key: str, value: bytes, *, ttl_ms: int | None = None, nx: bool = False
    ) -> bool:
        if nx and self._live(key) is not None:
            return False
        self._data[key] = _Entry(bytes(value), self._deadline(ttl_ms))
        self._wrote()
        return True

    async def delete(self, *keys: str) -> int:
        removed = 0
        for key in keys:
            if self._live(key) is not None:
                del self._data[key]
                removed += 1
        return removed

    async def incr(self, key: str, amount: int = 1, *, ttl_ms: int | None = None) -> int:
        entry = self._live(key)
        if entry is None:
            entry = self._data[key] = _Entry(0, self._deadline(ttl_ms))
        elif isinstance(entry.value, bytes):
            entry.value = int(entry.value)
        if not isinstance(entry.value, int):
            raise TypeError(f"{key} does not hold an integer")
        entry.value += amount
        self._wrote()
        return entry.value

    async def list_push(
        self, key: str, value: bytes, *, max_len: int, ttl_ms: int | None = None
    ) -> None:
        entry = self._live(key)
        if entry is None:
            entry = self._data[key] = _Entry([], None)
        if not isinstance(entry.value, list):
            raise TypeError(f"{key} does not hold a list")
        entry.value.append(bytes(value))
        del entry.value[: max(len(entry.value) - max_len, 0)]
        if ttl_ms is not None:
            entry.expires_at = self._deadline(ttl_ms)
        self._wrote()

    async def list_range(self, key: str, start: int = 0, end: int = -1) -> list[bytes]:
        entry = self._live(key)
        if entry is None:
            return []
        if not isinstance(entry.value, list):
            raise TypeError(f"{key} does not hold a list")
        # Redis LRANGE: inclusive end, negative indexes count from the tail.
        size = len(entry.value)
        first = max(size + start, 0) if start < 0 else start
        last = size + end if end < 0 else end
        return list(entry.value[first : last + 1])

    async def ping(self) -> bool:
        return True

    def clear(self) -> None:
        """Forget everything (the fallback is emptied when Redis is back)."""
        self._data.clear()

    async def health(self) -> StoreHealth:
        return StoreHealth(backend=self.backend, status="ok")

    async def aclose(self) -> None:
        self._data.clear()
