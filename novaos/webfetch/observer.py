"""Where the fetcher reports each finished fetch (the metrics layer implements it)."""

from __future__ import annotations

from typing import Protocol


class FetchObserver(Protocol):
    def fetched(self, result: str) -> None:
        """One fetch ended with ``result`` (ok|blocked|timeout|too_large|error)."""
        ...


class NoopFetchObserver:
    def fetched(self, result: str) -> None:
        return None
