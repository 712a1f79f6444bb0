"""Shield test fixtures: one classifier per session, a hand-written store fake."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from novaos.pipeline.gates.shield import ShieldClassifier, default_classifier
from novaos.ports import StoreHealth, StoreOp
from novaos.storage.batch import one_by_one


class FakeStore:
    """In-memory KeyValueStore with TTLs, enough for the veto throttle."""

    backend = "fake"

    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, float | None]] = {}
        self.now = time.monotonic()  # tests move the clock by hand

    def _live(self, key: str) -> bytes | None:
        item = self.data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and self.now >= expires:
            del self.data[key]
            return None
        return value

    def _expiry(self, ttl_ms: int | None) -> float | None:
        return None if ttl_ms is None else self.now + ttl_ms / 1000

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def set(
        self, key: str, value: bytes, *, ttl_ms: int | None = None, nx: bool = False
    ) -> bool:
        if nx and self._live(key) is not None:
            return False
        self.data[key] = (value, self._expiry(ttl_ms))
        return True

    async def delete(self, *keys: str) -> int:
        return sum(self.data.pop(k, None) is not None for k in keys)

    async def incr(self, key: str, amount: int = 1, *, ttl_ms: int | None = None) -> int:
        current = self._live(key)
        if current is None:
            self.data[key] = (str(amount).encode(), self._expiry(ttl_ms))
            return amount
        value = int(current) + amount
        self.data[key] = (str(value).encode(), self.data[key][1])
        return value

    async def list_push(
        self,
        key: str,
        *values: bytes,
        max_len: int,
        ttl_ms: int | None = None,
        op_id: str = "",
    ) -> None:
        raise NotImplementedError

    async def list_range(self, key: str, start: int = 0, end: int = -1) -> list[bytes]:
        raise NotImplementedError

    async def list_len(self, key: str) -> int:
        raise NotImplementedError

    def check_room(self, key: str, writes: int) -> None:
        raise NotImplementedError

    async def ranked_add(
        self, key: str, member: bytes, score: int, *, max_len: int, ttl_ms: int | None = None
    ) -> None:
        raise NotImplementedError

    async def ranked_top(
        self, key: str, count: int, *, min_score: int | None = None
    ) -> list[bytes]:
        raise NotImplementedError

    async def ranked_remove(self, key: str, *members: bytes) -> int:
        raise NotImplementedError

    async def expire(self, key: str, ttl_ms: int) -> bool:
        current = self._live(key)
        if current is None:
            return False
        self.data[key] = (current, self._expiry(ttl_ms))
        return True

    async def batch(self, ops: Sequence[StoreOp]) -> list[object]:
        return await one_by_one(self, ops)

    async def health(self) -> StoreHealth:
        return StoreHealth(backend="fake", status="ok")

    async def aclose(self) -> None:
        self.data.clear()


@pytest.fixture(scope="session")
def classifier() -> ShieldClassifier:
    return default_classifier()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()
