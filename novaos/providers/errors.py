"""Errors raised by provider adapters and handled by the router.

They never leave ``novaos.providers``: the router turns them into the outcome
errors of ``novaos.errors`` (``CircuitOpenError``, ``ProviderUnavailableError``,
``ProviderRejectedRequestError``, ``UpstreamTruncatedError``), which are
re-exported here for the router's users.

Two questions decide what the router does with one:
- ``counts_as_failure``: does it push the circuit breaker towards open?
  Connect errors, timeouts, 5xx, broken streams and a 4xx or redirect that is
  the config's (``ProviderConfigError``) do; a 4xx caused by the request (or a
  429, which has its own back-off) does not.
- transient (subclass of ``TransientProviderError``): may another provider, or
  the same one later, succeed with the same request?
"""

from __future__ import annotations

from collections.abc import Callable

from novaos.domain import Usage
from novaos.errors import (
    CircuitOpenError,
    ProviderRejectedRequestError,
    ProviderUnavailableError,
    UpstreamTruncatedError,
)

__all__ = [
    "ERROR_KINDS",
    "CircuitOpenError",
    "MalformedChunkError",
    "ProviderAuthError",
    "ProviderBusyError",
    "ProviderConfigError",
    "ProviderConnectError",
    "ProviderError",
    "ProviderRateLimitedError",
    "ProviderRejectedRequestError",
    "ProviderRequestError",
    "ProviderServerError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "ResponseTooLargeError",
    "StreamCutError",
    "StreamErrorEventError",
    "StreamStalledError",
    "TransientProviderError",
    "UnfinishedAnswerError",
    "UpstreamTruncatedError",
]


# The most of a provider's message an error keeps, once the gateway's secrets are
# out of it (``ProviderError.scrub``). The adapters keep the text whole (an error
# body is read up to 16 KiB): cut first, a secret that crossed the cut was no
# longer whole, and the part before it stayed.
MESSAGE_CHARS = 210


class ProviderError(Exception):
    """Base: one upstream call failed. ``kind`` is a short label for logs and metrics."""

    kind = "provider_error"
    counts_as_failure = True
    # Set on a stream that broke: the usage the provider had reported by then.
    usage: Usage | None = None
    # The provider had answered 200 when this came (its body broke, stalled, was
    # malformed or too large, or an error event came): it took the request and
    # read the prompt, so the attempt is charged whatever follows.
    accepted: bool = False
    # From an HTTP error body that has them (OpenAI's error.type and code, Anthropic's
    # error.type, Gemini's error.status and code): short identifiers, safe to log.
    error_type: str = ""
    error_code: str = ""

    def __init__(self, provider: str, message: str, *, status: int = 0) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message
        self.status = status

    def scrub(self, scrub: Callable[[str], str]) -> None:
        """Pass the provider's text (its message, error type and code) through
        ``scrub``, in place, then shorten the message to ``MESSAGE_CHARS``: the
        exception itself, chained as a cause, must not carry what was removed
        either."""
        self.message = scrub(self.message)[:MESSAGE_CHARS]
        self.args = (f"{self.provider}: {self.message}",)
        self.error_type, self.error_code = scrub(self.error_type), scrub(self.error_code)


class TransientProviderError(ProviderError):
    """The provider could not answer now; retrying elsewhere or later may work."""

    kind = "transient"


class ProviderConnectError(TransientProviderError):
    kind = "connect_error"


class ProviderTimeoutError(TransientProviderError):
    kind = "timeout"


class ProviderBusyError(TransientProviderError):
    """Every connection of our pool to this provider stayed busy for the connect
    timeout: our own limit (PROVIDER_MAX_CONNECTIONS), not the provider's fault."""

    kind = "pool_busy"
    counts_as_failure = False


class ProviderServerError(TransientProviderError):
    """5xx (including Anthropic's 529 overloaded)."""

    kind = "server_error"


class ProviderRateLimitedError(TransientProviderError):
    """429: skip this provider until ``retry_after_s`` has passed."""

    kind = "rate_limited"
    counts_as_failure = False

    def __init__(self, provider: str, message: str, *, retry_after_s: float | None) -> None:
        super().__init__(provider, message, status=429)
        self.retry_after_s = retry_after_s


class StreamCutError(TransientProviderError):
    """The connection closed, or the stream ended without its end marker."""

    kind = "stream_cut"


class UnfinishedAnswerError(StreamCutError):
    """The answer ended with a finish reason that does not say it is whole (Gemini
    OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, FINISH_REASON_UNSPECIFIED; Anthropic
    pause_turn or tool_use; a tool call where none was offered; any reason the
    adapter does not know): it counts as cut, never as done. The provider answered
    as its API says, for this request (a language it does not support): no breaker
    failure, and a kind of its own: ``stream_cut`` moves a breaker, and one kind
    has one rule (the alert ``NovaOSProviderErrors`` counts by kind)."""

    kind = "unfinished"
    counts_as_failure = False


class MalformedChunkError(TransientProviderError):
    """A stream event or body that is not the provider's documented format."""

    kind = "malformed"


class ResponseTooLargeError(TransientProviderError):
    """A whole body, or one stream event, far larger than any answer: a misbehaving
    (or hostile) upstream, read no further."""

    kind = "too_large"


class StreamErrorEventError(TransientProviderError):
    """The provider reported an error inside an otherwise healthy stream."""

    kind = "error_event"


class StreamStalledError(TransientProviderError):
    """No chunk within STREAM_IDLE_TIMEOUT_MS."""

    kind = "stalled"


class ProviderRequestError(ProviderError):
    """A 4xx caused by the request itself (too long, bad parameter): not the provider's
    fault. What an adapter raises for any 4xx it has no other class for, and for a
    redirect; the router turns those that are ours into ``ProviderConfigError``
    (``attempt.as_counted``)."""

    kind = "request_error"
    counts_as_failure = False


class ProviderConfigError(ProviderError):
    """A 4xx or redirect that is the config's, not the request's: a 404 for the
    configured model (misspelt, or retired by the provider) or for a base URL with a
    wrong path, or a redirect (a base URL to fix). Every call fails alike until the
    config is fixed: it moves the breaker, and the alert on failed calls counts it.
    Only the router knows which model the client asked for, so it makes these from
    the adapter's ``ProviderRequestError`` (``attempt.as_counted``)."""

    kind = "config_error"


class ProviderAuthError(ProviderError):
    """401/403: our credentials are wrong; every call will fail until config is fixed."""

    kind = "auth_error"


# Every ``kind`` above: the ``kind`` of the ``provider call failed`` log line and
# of ``provider_errors_total``, a fixed set so the metric's labels stay bounded.
ERROR_KINDS = (
    ProviderError.kind,
    TransientProviderError.kind,
    ProviderConnectError.kind,
    ProviderTimeoutError.kind,
    ProviderBusyError.kind,
    ProviderServerError.kind,
    ProviderRateLimitedError.kind,
    StreamCutError.kind,
    UnfinishedAnswerError.kind,
    MalformedChunkError.kind,
    ResponseTooLargeError.kind,
    StreamErrorEventError.kind,
    StreamStalledError.kind,
    ProviderRequestError.kind,
    ProviderConfigError.kind,
    ProviderAuthError.kind,
)
