"""In-process key-value store (the embedded default and the Redis-down fallback)."""

from __future__ import annotations

import time
from collections.abc import Callable

from novaos.ports import StoreHealth


class MemoryStore:
    backend = "memory"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[object, float | None]] = {}
        self._clock = clock

    def _live(self, key: str) -> object | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= self._clock():
            del self._data[key]
            return None
        return value

    def _expiry(self, ttl_ms: int | None) -> float | None:
        return None if ttl_ms is None else self._clock() + ttl_ms / 1000

    async def get(self, key: str) -> bytes | None:
        value = self._live(key)
        return value if isinstance(value, bytes) else None

    async def set(
        self, key: str, value: bytes, *, ttl_ms: int | None = None, nx: bool = False
    ) -> bool:
        if nx and self._live(key) is not None:
            return False
        self._data[key] = (value, self._expiry(ttl_ms))
        return True

    async def delete(self, *keys: str) -> int:
        removed = 0
        for key in keys:
            if self._live(key) is not None:
                del self._data[key]
                removed += 1
        return removed

    async def incr(self, key: str, amount: int = 1, *, ttl_ms: int | None = None) -> int:
        current = self._live(key)
        value = int(current) + amount if isinstance(current, bytes) else amount
        expires = self._data[key][1] if current is not None else self._expiry(ttl_ms)
        self._data[key] = (str(value).encode(), expires)
        return value

    async def list_push(
        self, key: str, value: bytes, *, max_len: int, ttl_ms: int | None = None
    ) -> None:
        current = self._live(key)
        items = list(current) if isinstance(current, list) else []
        items.append(value)
        self._data[key] = (items[-max_len:], self._expiry(ttl_ms))

    async def list_range(self, key: str, start: int = 0, end: int = -1) -> list[bytes]:
        current = self._live(key)
        items = current if isinstance(current, list) else []
        stop = None if end == -1 else end + 1
        return list(items[start:stop])

    async def health(self) -> StoreHealth:
        return StoreHealth("memory", "ok", 0.0)

    async def aclose(self) -> None:
        self._data.clear()
