"""The metrics hook of the provider layer.

The router reports through this small protocol so it never imports
Prometheus; the observability layer implements it (``circuit_breaker_state``,
``provider_errors_total``, ``llm_token_usage_total``, time-to-first-token and
inter-token histograms).
"""

from __future__ import annotations

from typing import Protocol


class ProviderObserver(Protocol):
    def circuit_state(self, provider: str, state: int) -> None:
        """A breaker changed state: 0 closed, 1 open, 2 half-open."""

    def failed(self, provider: str, kind: str) -> None:
        """One call to ``provider`` failed (``ProviderError.kind``), whether or not
        another provider then answered."""

    def tokens(self, provider: str, model: str, kind: str, n: int) -> None:
        """``kind`` is "input" or "output"; called once per finished call."""

    def first_token(self, provider: str, seconds: float) -> None:
        """Time from sending the request to the first streamed chunk."""

    def inter_token(self, provider: str, seconds: float) -> None:
        """Gap between two streamed chunks."""


class NullProviderObserver:
    """Reports nowhere: for tests and tools that need no metrics."""

    def circuit_state(self, provider: str, state: int) -> None:
        return None

    def failed(self, provider: str, kind: str) -> None:
        return None

    def tokens(self, provider: str, model: str, kind: str, n: int) -> None:
        return None

    def first_token(self, provider: str, seconds: float) -> None:
        return None

    def inter_token(self, provider: str, seconds: float) -> None:
        return None
