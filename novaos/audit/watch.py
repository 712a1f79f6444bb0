"""Fan-out of newly written records to watchers (a SIEM tailing the log).

Each watcher has its own bounded queue. A watcher that falls behind is cut
off with ``AuditWatchLaggedError`` rather than slowing the writer or growing
memory; it resumes with ``ListAuditEvents`` from the last seq it saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from novaos.audit.record import AuditRecord
from novaos.errors import AuditWatchLaggedError

_END = None


class Subscription:
    """Up to ``maxsize`` records waiting, plus one slot kept for the end marker:
    a watcher that falls behind keeps every record it was sent, in order, up to
    the one that did not fit, so resuming with List after the last seq it saw
    misses nothing; and closing always reaches it, however full its queue."""

    def __init__(self, fanout: Fanout, maxsize: int) -> None:
        self._fanout = fanout
        self._maxsize = maxsize
        self._queue: asyncio.Queue[AuditRecord | None] = asyncio.Queue(maxsize + 1)
        self._ended = False
        self.lagged = False

    def offer(self, record: AuditRecord) -> None:
        if self._ended:
            return
        if self._queue.qsize() >= self._maxsize:
            self.lagged = True
            self.end()
            return
        self._queue.put_nowait(record)

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(_END)  # the kept slot: never full

    def close(self) -> None:
        """Stop receiving (a watcher that went away)."""
        self._fanout.unsubscribe(self)

    def __aiter__(self) -> AsyncIterator[AuditRecord]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AuditRecord]:
        try:
            while True:
                record = await self._queue.get()
                if record is None:
                    if self.lagged:
                        raise AuditWatchLaggedError("audit watcher fell behind; resume with List")
                    return
                yield record
        finally:
            self._fanout.unsubscribe(self)


class Fanout:
    def __init__(self, maxsize: int = 1000) -> None:
        self._maxsize = maxsize
        self._subs: set[Subscription] = set()

    @property
    def watchers(self) -> int:
        return len(self._subs)

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self._maxsize)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, records: Sequence[AuditRecord]) -> None:
        for sub in tuple(self._subs):
            for record in records:
                sub.offer(record)

    def close(self) -> None:
        for sub in tuple(self._subs):
            sub.end()
