"""Why a fetch stopped early. These never leave the package: ``SafeWebFetcher``
turns each into a ``FetchResult`` (callers get results, not exceptions)."""

from __future__ import annotations


class FetchAbortedError(Exception):
    """A fetch ended without text; ``result`` is one of the FetchResult results."""

    result = "error"

    def __init__(self, reason: str, *, result: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if result is not None:
            self.result = result


class FetchBlockedError(FetchAbortedError):
    """Refused by policy (scheme, port, host, address, content type, ...)."""

    result = "blocked"


class FetchTooLargeError(FetchAbortedError):
    result = "too_large"


class FetchTimeoutError(FetchAbortedError):
    result = "timeout"
