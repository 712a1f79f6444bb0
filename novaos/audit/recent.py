"""A bounded in-memory log of recent request summaries (the ``memory`` sink)."""

from __future__ import annotations

from collections import deque

from novaos.ports import RequestSummary


class RecentRequests:
    """Keeps the last ``capacity`` summaries; implements the ``AuditLog`` port."""

    def __init__(self, capacity: int = 10000) -> None:
        self._items: deque[RequestSummary] = deque(maxlen=capacity)

    async def record(self, summary: RequestSummary) -> None:
        self._items.append(summary)

    def items(self) -> list[RequestSummary]:
        return list(self._items)
