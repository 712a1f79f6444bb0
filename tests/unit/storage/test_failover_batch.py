"""A batch the primary cannot apply whole fails over op by op: nothing twice."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from novaos.errors import StorageUnavailableError
from novaos.ports import GetOp, PushOp, SetOp, StoreOp
from novaos.storage import FailoverStore, MemoryStore
from novaos.storage.batch import one_by_one


class FlakyPrimary(MemoryStore):
    """An in-process stand-in for a primary that goes away after ``up_for`` writes."""

    backend = "redis_cluster"
    last_failure: StorageUnavailableError | None = None

    def __init__(self, up_for: int, *, atomic: bool) -> None:
        super().__init__()
        self.atomic_batches = atomic
        self.up_for = up_for
        self.batches = 0

    def _write(self) -> None:
        if self.up_for <= 0:
            raise StorageUnavailableError("primary unavailable: ConnectionError")
        self.up_for -= 1

    async def set(
        self, key: str, value: bytes, *, ttl_ms: int | None = None, nx: bool = False
    ) -> bool:
        self._write()
        return await super().set(key, value, ttl_ms=ttl_ms, nx=nx)

    async def list_push(
        self,
        key: str,
        *values: bytes,
        max_len: int,
        ttl_ms: int | None = None,
        op_id: str = "",
    ) -> None:
        self._write()
        await super().list_push(key, *values, max_len=max_len, ttl_ms=ttl_ms)

    async def batch(self, ops: Sequence[StoreOp]) -> list[object]:
        self.batches += 1
        if self.atomic_batches and self.up_for < sum(not isinstance(o, GetOp) for o in ops):
            self.up_for = 0
            raise StorageUnavailableError("primary unavailable: ConnectionError")
        return await one_by_one(self, ops)

    async def ping(self) -> bool:
        return self.up_for > 0

    async def accepts_writes(self) -> bool:
        return self.up_for > 0

    async def replay_push(
        self, key: str, *values: bytes, max_len: int, ttl_ms: int | None, op_id: str
    ) -> bool:
        await self.list_push(key, *values, max_len=max_len, ttl_ms=ttl_ms)
        return True


_TURNS = "nova:conv:{alice}:c1:turns"
_OPS: list[StoreOp] = [
    PushOp(_TURNS, (b"q",), 10, 60_000),
    PushOp(_TURNS, (b"a",), 10, 60_000),
    SetOp("meta", b"m"),
]


async def test_a_batch_cut_half_way_journals_only_what_the_primary_missed() -> None:
    primary = FlakyPrimary(up_for=1, atomic=False)  # takes the first push, then goes away
    store = FailoverStore(primary, replay=lambda key: True, min_backoff_s=60)
    try:
        assert await store.batch(_OPS) == [None, None, True]
        assert not store.primary_available
        assert await primary.list_range(_TURNS) == [b"q"]
        assert store.journal_size == 2  # the second push and the set; never the first push again
        assert await store.fallback.list_range(_TURNS) == [b"a"]
    finally:
        await store.aclose()


@pytest.mark.parametrize("up_for", [0, 2])
async def test_an_atomic_batch_that_fails_goes_whole_to_memory(up_for: int) -> None:
    primary = FlakyPrimary(up_for=up_for, atomic=True)
    store = FailoverStore(primary, replay=lambda key: True, min_backoff_s=60)
    try:
        assert await store.batch(_OPS) == [None, None, True]
        assert primary.batches == 1
        assert await primary.list_range(_TURNS) == []  # all or nothing
        assert store.journal_size == 3
        assert await store.fallback.list_range(_TURNS) == [b"q", b"a"]
    finally:
        await store.aclose()


async def test_an_atomic_batch_goes_to_the_primary_in_one_call() -> None:
    primary = FlakyPrimary(up_for=10, atomic=True)
    store = FailoverStore(primary, replay=lambda key: True)
    try:
        assert await store.batch([*_OPS, GetOp("meta")]) == [None, None, True, b"m"]
        assert primary.batches == 1 and store.primary_available and store.journal_size == 0
    finally:
        await store.aclose()
