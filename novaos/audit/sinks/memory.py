"""A bounded in-memory ring of records: for development and tests.

The oldest records fall off when the ring is full; the head survives, so the
chain keeps counting and a verify over the retained window still works.
"""

from __future__ import annotations

import builtins
from collections import deque
from collections.abc import Sequence

from novaos.audit.chain import UNKEYED, ChainHead, ChainKeys, chained_onto, head_of
from novaos.audit.record import AuditRecord
from novaos.audit.sink import AuditPage, AuditQuery, page_of


class MemoryAuditSink:
    name = "memory"
    evicts = True  # verify starts at the oldest retained record

    def __init__(self, capacity: int = 10_000, *, keys: ChainKeys = UNKEYED) -> None:
        self._ring: deque[AuditRecord] = deque(maxlen=capacity)
        self._keys = keys
        self._head = ChainHead()

    @property
    def records(self) -> deque[AuditRecord]:
        """The ring itself, exposed so tests can tamper with stored records."""
        return self._ring

    async def open(self) -> ChainHead:
        return self._head

    async def append(self, records: Sequence[AuditRecord]) -> builtins.list[AuditRecord]:
        stored = chained_onto(records, self._head, self._keys)
        self._ring.extend(stored)
        self._head = head_of(stored, self._head)
        return stored

    async def list(self, query: AuditQuery) -> AuditPage:
        matches: builtins.list[AuditRecord] = []
        for record in self._ring:
            if query.matches(record):
                matches.append(record)
                if len(matches) > query.limit:
                    break
        return page_of(matches, query.limit)

    async def get(self, record_id: str) -> AuditRecord | None:
        return next((r for r in self._ring if r.id == record_id), None)

    async def range(
        self, from_seq: int, to_seq: int, *, limit: int = 1000
    ) -> builtins.list[AuditRecord]:
        found = [r for r in self._ring if from_seq <= r.seq <= to_seq]
        return found[:limit]

    async def head(self) -> ChainHead:
        return self._head

    @property
    def high(self) -> ChainHead:
        return self._head  # nothing cuts a ring from outside but a test

    async def aclose(self) -> None:
        return None
