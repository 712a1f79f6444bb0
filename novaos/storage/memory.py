"""In-process key-value store: dev mode, unit tests and the Redis-down fallback.

Semantics match ``RedisStore`` (see ``novaos.ports.KeyValueStore``): TTLs in
milliseconds, ``incr`` sets its TTL only when it creates the key, ``list_push``
appends its values together, keeps the newest ``max_len`` items and refreshes
the TTL (a push with an op id is applied once); ``ranked_add`` only ever raises
a score and keeps the ``max_len`` highest, and ``ranked_top`` orders equal
scores by member, greatest first, as Redis's ZREVRANGEBYSCORE does.

Bounded, so many distinct conversations cannot grow the process without end:

* Expiry really frees memory. Deadlines sit in a heap; every call first pops
  the items whose deadline has passed, so the cost is proportional to what
  expired (no scan of live keys per request). A refreshed TTL leaves a stale
  heap item behind, and the heap is rebuilt once stale items outnumber the
  keys, which keeps it O(keys) at amortised O(1) per write.
* ``max_keys`` caps the number of keys. A new key beyond the cap evicts whole
  eviction groups, least recently used first (a group is one conversation: its
  turns, metadata and owner claim leave together, so a claim never outlives the
  history it protects). Keys without a group (limit counters, ack nonces, spark
  gaps) are never evicted: dropping one would hand a user a fresh budget or let a
  nonce be replayed. If only such keys are left the write is refused with
  ``StorageFullError``, which fails the request closed.
* An evicted key may leave a tombstone (``tombstone``: its new value, or None):
  the same key, holding that value until the key's own deadline. Conversations
  use it for the owner claim, so an evicted id is neither read as new nor taken
  by another user. Tombstones are not counted in ``max_keys`` (they make no room)
  and are bounded by ``max_tombstones`` of their own, the oldest dropped first.
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from novaos.errors import StorageFullError
from novaos.ports import StoreHealth, StoreOp
from novaos.storage.batch import one_by_one

EvictionGroup = Callable[[str], str | None]
"""Maps a key to the unit it is evicted with, or ``None`` for "never evict"."""


Tombstone = Callable[[str, bytes], bytes | None]
"""What an evicted key holding ``value`` leaves behind under its name, or ``None``."""


def _pinned(key: str) -> str | None:
    return None


def _no_tombstone(key: str, value: bytes) -> bytes | None:
    return None


Value = bytes | int | list[bytes] | dict[bytes, int]  # dict: a ranked set, member -> score


def _rank(item: tuple[bytes, int]) -> tuple[int, bytes]:
    """A ranked member's place, lowest first: its score, then its bytes (Redis's order)."""
    return item[1], item[0]


@dataclass(slots=True)
class _Entry:
    value: Value
    expires_at: float | None  # clock() seconds, None = no expiry
    group: str | None
    stamp: int = 0  # which expiry-heap item is current
    pushed_ids: list[str] = field(default_factory=list)  # a list's latest op ids


class MemoryStore:
    """A dict with expiries and an LRU cap. Single event loop: no locking needed
    (no awaits inside)."""

    backend = "memory"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int | None = None,
        eviction_group: EvictionGroup = _pinned,
        tombstone: Tombstone = _no_tombstone,
        max_tombstones: int | None = None,
    ) -> None:
        """``max_tombstones``: None keeps as many as ``max_keys``."""
        if max_keys is not None and max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._clock = clock
        self._max_keys = max_keys
        self._group_of = eviction_group
        self._tombstone = tombstone
        self._max_tombstones = max_keys if max_tombstones is None else max_tombstones
        self._data: dict[str, _Entry] = {}
        self._groups: OrderedDict[str, set[str]] = OrderedDict()  # least recent first
        self._tombstones: OrderedDict[str, None] = OrderedDict()  # keys left as one, oldest first
        # (deadline, stamp, key); an item whose stamp no longer matches is stale.
        self._expiry_heap: list[tuple[float, int, str]] = []
        self._stamps = 0
        self.evicted = 0  # keys dropped to stay under max_keys
        self.expired = 0  # keys dropped because their TTL ran out

    def key_count(self) -> int:
        """Keys held (expired ones leave at the next call after their deadline).

        A method, not ``__len__``: an empty store must still be truthy."""
        return len(self._data)

    # -- bookkeeping (no awaits: each public call is atomic on the event loop)

    def _sweep(self, now: float) -> None:
        heap = self._expiry_heap
        while heap and heap[0][0] <= now:
            _, stamp, key = heapq.heappop(heap)
            entry = self._data.get(key)
            if entry is not None and entry.stamp == stamp:  # else superseded or gone
                self._remove(key, entry)
                self.expired += 1

    def _expire_at(self, entry: _Entry, key: str, deadline: float | None) -> None:
        entry.expires_at = deadline
        self._stamps += 1
        entry.stamp = self._stamps  # older heap items for this key are now stale
        if deadline is None:
            return
        heap = self._expiry_heap
        heapq.heappush(heap, (deadline, entry.stamp, key))
        if len(heap) > 2 * len(self._data) + 64:
            # Refreshed TTLs leave stale items behind; rebuilding after at least
            # len(data) pushes keeps the heap O(keys) at amortised O(1) per write.
            live = [
                (e.expires_at, e.stamp, k)
                for k, e in self._data.items()
                if e.expires_at is not None
            ]
            heapq.heapify(live)
            self._expiry_heap = live

    def _remove(self, key: str, entry: _Entry) -> None:
        del self._data[key]
        self._tombstones.pop(key, None)
        if entry.group is not None:
            members = self._groups.get(entry.group)
            if members is not None:
                members.discard(key)
                if not members:
                    del self._groups[entry.group]

    def _live(self, key: str) -> _Entry | None:
        """The entry if present and unexpired; marks its group as recently used."""
        now = self._clock()
        self._sweep(now)
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= now:
            self._remove(key, entry)
            self.expired += 1
            return None
        if entry.group is not None:
            self._groups.move_to_end(entry.group)
        return entry

    def _create(self, key: str, value: Value, ttl_ms: int | None) -> _Entry:
        group = self._group_of(key)
        if group is not None and group in self._groups:
            self._groups.move_to_end(group)  # its siblings are the last to go
        self._make_room(key, group)
        entry = self._data[key] = _Entry(value, None, group)
        if group is not None:
            self._groups.setdefault(group, set()).add(key)
        self._expire_at(entry, key, self._deadline(ttl_ms))
        return entry

    def _make_room(self, key: str, group: str | None) -> None:
        if self._max_keys is None:
            return
        while len(self._data) - len(self._tombstones) >= self._max_keys:
            victim = next(iter(self._groups), None)
            if victim is None or victim == group:
                raise StorageFullError(
                    f"memory store holds {len(self._data)} keys (MEMORY_STORE_MAX_KEYS) "
                    f"and none may be evicted; refusing to add {key!r}"
                )
            for member in list(self._groups[victim]):
                entry = self._data[member]
                self._remove(member, entry)
                self.evicted += 1
                if isinstance(entry.value, bytes):
                    left = self._tombstone(member, entry.value)
                    if left is not None:
                        self._bury(member, left, entry.expires_at)

    def _bury(self, key: str, value: bytes, deadline: float | None) -> None:
        """Leave ``value`` under an evicted key until its deadline, in no group."""
        if self._max_tombstones is None or self._max_tombstones < 1:
            return
        entry = self._data[key] = _Entry(value, None, None)
        self._expire_at(entry, key, deadline)
        self._tombstones[key] = None
        while len(self._tombstones) > self._max_tombstones:
            oldest = next(iter(self._tombstones))
            self._remove(oldest, self._data[oldest])

    def _deadline(self, ttl_ms: int | None) -> float | None:
        return None if ttl_ms is None else self._clock() + ttl_ms / 1000

    # -- KeyValueStore

    async def get(self, key: str) -> bytes | None:
        entry = self._live(key)
        if entry is None:
            return None
        if isinstance(entry.value, int):
            return str(entry.value).encode()
        if not isinstance(entry.value, bytes):
            raise TypeError(f"{key} holds a {type(entry.value).__name__}")
        return entry.value

    async def set(
        self, key: str, value: bytes, *, ttl_ms: int | None = None, nx: bool = False
    ) -> bool:
        entry = self._live(key)
        if entry is None:
            self._create(key, bytes(value), ttl_ms)
            return True
        if nx:
            return False
        entry.value = bytes(value)
        self._expire_at(entry, key, self._deadline(ttl_ms))  # SET without PX clears the TTL
        return True

    async def delete(self, *keys: str) -> int:
        removed = 0
        for key in keys:
            entry = self._live(key)
            if entry is not None:
                self._remove(key, entry)
                removed += 1
        return removed

    async def incr(self, key: str, amount: int = 1, *, ttl_ms: int | None = None) -> int:
        entry = self._live(key)
        if entry is None:
            entry = self._create(key, 0, ttl_ms)
        elif isinstance(entry.value, bytes):
            entry.value = int(entry.value)
        if not isinstance(entry.value, int):
            raise TypeError(f"{key} does not hold an integer")
        entry.value += amount
        return entry.value

    async def list_push(
        self,
        key: str,
        *values: bytes,
        max_len: int,
        ttl_ms: int | None = None,
        op_id: str = "",
    ) -> None:
        if not values:
            raise ValueError(f"a push to {key!r} needs a value")
        entry = self._live(key)
        if entry is None:
            entry = self._create(key, [], None)
        if not isinstance(entry.value, list):
            raise TypeError(f"{key} does not hold a list")
        if op_id:
            # As in Redis: the ids of the latest pushes, kept and dropped with the list.
            if op_id in entry.pushed_ids:
                return
            entry.pushed_ids.append(op_id)
            del entry.pushed_ids[: max(len(entry.pushed_ids) - max_len, 0)]
        entry.value.extend(bytes(value) for value in values)
        del entry.value[: max(len(entry.value) - max_len, 0)]
        if ttl_ms is not None:
            self._expire_at(entry, key, self._deadline(ttl_ms))

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

    async def list_len(self, key: str) -> int:
        entry = self._live(key)
        if entry is None:
            return 0
        if not isinstance(entry.value, list):
            raise TypeError(f"{key} does not hold a list")
        return len(entry.value)

    async def expire(self, key: str, ttl_ms: int) -> bool:
        entry = self._live(key)
        if entry is None:
            return False
        self._expire_at(entry, key, self._deadline(ttl_ms))
        return True

    async def ranked_add(
        self, key: str, member: bytes, score: int, *, max_len: int, ttl_ms: int | None = None
    ) -> None:
        entry = self._live(key)
        if entry is None:
            entry = self._create(key, {}, None)
        ranked = self._ranked(key, entry)
        member = bytes(member)
        current = ranked.get(member)
        if current is None or score > current:  # GT: a score never goes down
            ranked[member] = score
        while len(ranked) > max_len:  # usually one over: O(n) each, no sort
            del ranked[min(ranked.items(), key=_rank)[0]]
        if ttl_ms is not None:
            self._expire_at(entry, key, self._deadline(ttl_ms))

    async def ranked_top(
        self, key: str, count: int, *, min_score: int | None = None
    ) -> list[bytes]:
        entry = self._live(key)
        if entry is None or count <= 0:
            return []
        ranked = self._ranked(key, entry).items()
        items = ranked if min_score is None else [i for i in ranked if i[1] >= min_score]
        return [member for member, _ in heapq.nlargest(count, items, key=_rank)]

    async def ranked_remove(self, key: str, *members: bytes) -> int:
        entry = self._live(key)
        if entry is None:
            return 0
        ranked = self._ranked(key, entry)
        removed = sum(ranked.pop(bytes(m), None) is not None for m in set(members))
        if not ranked:
            self._remove(key, entry)  # Redis drops an emptied sorted set
        return removed

    @staticmethod
    def _ranked(key: str, entry: _Entry) -> dict[bytes, int]:
        if not isinstance(entry.value, dict):
            raise TypeError(f"{key} does not hold a ranked set")
        return entry.value

    async def batch(self, ops: Sequence[StoreOp]) -> list[object]:
        # No op awaits anything, so no other task runs between them.
        return await one_by_one(self, ops)

    def check_room(self, key: str, writes: int) -> None:
        # Room is made by evicting conversations. Only a store holding nothing it
        # may evict refuses, and then only a key that is not there yet: which keys
        # a write creates is known when it comes, not here.
        return None

    async def ping(self) -> bool:
        return True

    def clear(self) -> None:
        """Forget everything (the fallback is emptied when Redis is back)."""
        self._data.clear()
        self._groups.clear()
        self._tombstones.clear()
        self._expiry_heap.clear()

    async def health(self) -> StoreHealth:
        return StoreHealth(backend=self.backend, status="ok")

    async def aclose(self) -> None:
        self.clear()
