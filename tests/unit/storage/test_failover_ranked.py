"""A ranked set written while Redis is away reaches it when it is back: the
listing index of the conversations an outage touched."""

from __future__ import annotations

from novaos.errors import StorageUnavailableError
from novaos.storage import FailoverStore, MemoryStore
from tests.fixtures.common import await_until

_INDEX = "nova:conv:{alice}:recent"


class Primary(MemoryStore):
    """An in-process stand-in for Redis that is there or not."""

    backend = "redis"
    atomic_batches = True
    last_failure: StorageUnavailableError | None = None

    def __init__(self) -> None:
        super().__init__()
        self.up = True

    async def ranked_add(
        self, key: str, member: bytes, score: int, *, max_len: int, ttl_ms: int | None = None
    ) -> None:
        if not self.up:
            raise StorageUnavailableError("primary unavailable: ConnectionError")
        await super().ranked_add(key, member, score, max_len=max_len, ttl_ms=ttl_ms)

    async def ping(self) -> bool:
        return self.up

    async def accepts_writes(self) -> bool:
        return self.up

    async def replay_push(
        self, key: str, *values: bytes, max_len: int, ttl_ms: int | None, op_id: str
    ) -> bool:
        await self.list_push(key, *values, max_len=max_len, ttl_ms=ttl_ms, op_id=op_id)
        return True


async def _back(store: FailoverStore) -> bool:
    return store.primary_available


async def test_ranked_writes_made_on_memory_are_copied_back_without_lowering_a_rank() -> None:
    primary = Primary()
    store = FailoverStore(
        primary, replay=lambda key: key == _INDEX, min_backoff_s=0.01, max_backoff_s=0.05
    )
    try:
        for member, score in ((b"old", 100), (b"gone", 200), (b"moved", 300)):
            await store.ranked_add(_INDEX, member, score, max_len=5, ttl_ms=60_000)
        primary.up = False
        await store.ranked_add(_INDEX, b"new", 500, max_len=5, ttl_ms=60_000)  # notices
        assert not store.primary_available
        await store.ranked_add(_INDEX, b"moved", 600, max_len=5, ttl_ms=60_000)
        assert await store.ranked_remove(_INDEX, b"gone") == 0  # memory never held it
        # Meanwhile another replica, still on Redis, ranked "moved" later still.
        for member, score in ((b"other", 650), (b"moved", 700)):
            await MemoryStore.ranked_add(primary, _INDEX, member, score, max_len=5, ttl_ms=60_000)
        assert store.journal_size == 3
        assert await store.ranked_top(_INDEX, 10) == [b"moved", b"new"]  # memory's view
        primary.up = True
        await await_until(lambda: _back(store), timeout_s=5, what="the copy back")
        assert store.journal_size == 0
        # "gone" removed, "new" added, "moved" kept at Redis's later rank (the copy
        # of its earlier one, like a copy sent twice, changes nothing)
        expected = [b"moved", b"other", b"new", b"old"]
        assert await primary.ranked_top(_INDEX, 10) == expected
        assert await store.ranked_top(_INDEX, 10) == expected
    finally:
        await store.aclose()
