"""The one tree of expected errors.

Each class is one outcome with a stable UPPER_SNAKE ``reason``. Transport maps
each class to a gRPC status in one table (``novaos.transport.errors``); domain
code raises these and never knows about status codes.
"""

from __future__ import annotations

from dataclasses import dataclass

# google.rpc.ErrorInfo's domain on every error, the sidecar's own included.
ERROR_DOMAIN = "novaos.dev"


class NovaError(Exception):
    """Base of every expected error. Anything else is a bug (INTERNAL)."""

    reason = "NOVA_ERROR"

    def __init__(self, message: str, *, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = dict(metadata or {})


EXIT_CONFIG = 2  # the process exit code when a ConfigError stops start-up (the CLI's too)


class ConfigError(NovaError):
    """A setting is missing or invalid; start-up stops."""

    reason = "CONFIG_INVALID"


class PolicyError(ConfigError):
    """A shield policy file is missing or invalid; start-up stops."""

    reason = "POLICY_INVALID"


class UnauthenticatedError(NovaError):
    reason = "TOKEN_MISSING"

    def __init__(self, message: str, *, reason: str = "TOKEN_MISSING") -> None:
        super().__init__(message)
        self.reason = reason


class PermissionDeniedError(NovaError):
    reason = "ROLE_REQUIRED"


class InvalidArgumentError(NovaError):
    """Bad input; ``field`` names the offending request field."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}", metadata={"field": field_name})
        self.field = field_name
        self.description = message


class AckInvalidError(InvalidArgumentError):
    """An ack token that is invalid, expired, replayed or foreign."""

    reason = "ACK_INVALID"

    def __init__(self, message: str) -> None:
        super().__init__("ack_token", message)


class NotFoundError(NovaError):
    reason = "NOT_FOUND"


@dataclass(frozen=True)
class QuotaViolation:
    """Which limit was hit (maps to google.rpc.QuotaFailure)."""

    subject: str
    limit: str  # "requests_per_minute" | "tokens_per_minute" | "concurrency"
    description: str


@dataclass(frozen=True)
class LimitWindow:
    """One limit as a client sees it: its size, what is left, seconds until more is."""

    limit: int
    remaining: int
    reset_s: int


@dataclass(frozen=True)
class RateLimitHeaders:
    """The x-ratelimit-* values sent on every chat response.

    ``limit`` / ``remaining`` / ``reset_s`` (the guide's three headers) describe
    the requests limit on an admitted call, and on a refusal the limit that
    refused: remaining 0, reset when it would admit the call (= Retry-After), so
    a 429 never shows quota left. ``requests`` and ``tokens`` are each window as
    it stands (OpenAI's ``-requests`` / ``-tokens`` headers, resets written as
    OpenAI does: ``"12s"``).
    """

    limit: int
    remaining: int
    reset_s: int
    requests: LimitWindow | None = None
    tokens: LimitWindow | None = None

    def as_metadata(self) -> list[tuple[str, str]]:
        meta = [
            ("x-ratelimit-limit", str(self.limit)),
            ("x-ratelimit-remaining", str(max(self.remaining, 0))),
            ("x-ratelimit-reset", str(self.reset_s)),
        ]
        for kind, window in (("requests", self.requests), ("tokens", self.tokens)):
            if window is not None:
                meta += [
                    (f"x-ratelimit-limit-{kind}", str(window.limit)),
                    (f"x-ratelimit-remaining-{kind}", str(max(window.remaining, 0))),
                    (f"x-ratelimit-reset-{kind}", f"{window.reset_s}s"),
                ]
        return meta


class RateLimitedError(NovaError):
    reason = "RATE_LIMITED"

    def __init__(
        self,
        message: str,
        *,
        violation: QuotaViolation,
        retry_after_s: float,
        headers: RateLimitHeaders,
    ) -> None:
        super().__init__(message, metadata={"limit": violation.limit})
        self.violation = violation
        self.retry_after_s = retry_after_s
        self.headers = headers


class OverTokenLimitError(NovaError):
    """The request alone reserves more tokens than its tier's whole tokens/min limit:
    no wait admits it, so it is no rate limit (no Retry-After); it must ask for less."""

    reason = "REQUEST_OVER_TOKEN_LIMIT"

    def __init__(
        self, message: str, *, violation: QuotaViolation, reserved: int, headers: RateLimitHeaders
    ) -> None:
        metadata = {
            "limit": violation.limit,
            "limit_tokens": str(headers.tokens.limit if headers.tokens else ""),
            "reserved_tokens": str(reserved),
        }
        super().__init__(message, metadata=metadata)
        self.violation = violation
        self.headers = headers


class CircuitOpenError(NovaError):
    """Every provider circuit is open: nothing can answer."""

    reason = "CIRCUIT_OPEN"

    def __init__(self, message: str = "Circuit open", *, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ProviderUnavailableError(NovaError):
    """Every provider failed before the first token."""

    reason = "PROVIDER_UNAVAILABLE"

    def __init__(self, message: str, *, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ProviderRejectedRequestError(NovaError):
    """Every provider called refused the request itself (a 4xx: a prompt over its
    context length, a model the client asked for that it does not have, a
    parameter it does not take) and none was skipped or failed otherwise: the
    same request fails again, however long the client waits, so this is no
    ``UNAVAILABLE``. ``metadata["providers"]`` names each with its status
    (``openai:400,anthropic:400``)."""

    reason = "PROVIDER_REJECTED_REQUEST"


class UpstreamTruncatedError(NovaError):
    """The upstream stream broke after its first chunk reached the gateway."""

    reason = "UPSTREAM_TRUNCATED"

    def released(self, chars: int) -> UpstreamTruncatedError:
        """The same break as the client saw it: ``chars`` characters reached it. The
        gateway holds text back, so that can be fewer than arrived, or none."""
        provider = self.metadata.get("provider", "the provider")
        cause = self.metadata.get("cause", "unknown")
        told = (
            f"after {chars} characters were released" if chars else "before any text was released"
        )
        return UpstreamTruncatedError(
            f"upstream stream from {provider} broke {told} ({cause})",
            metadata=self.metadata | {"releasedChars": str(chars)},
        )


class DeadlineExceededError(NovaError):
    reason = "DEADLINE_EXCEEDED"


class StorageUnavailableError(NovaError):
    """The shared store (Redis) did not answer; callers may fall back to memory."""

    reason = "STORAGE_UNAVAILABLE"


class StorageRefusedError(StorageUnavailableError):
    """Redis answers but refuses NovaOS: the credentials (WRONGPASS, NOAUTH) or the TLS
    certificate it shows, or a ``REDIS_CLUSTER_NODES`` node not in cluster mode. No
    outage that ends by itself: found at start-up, start-up stops (a ``ConfigError``
    naming ``setting``); found while running, memory serves as in an outage, and the
    fallback's log line and readiness name ``cause``."""

    def __init__(self, backend: str, cause: str, *, setting: str = "REDIS_URL") -> None:
        super().__init__(f"{backend} refuses NovaOS: {cause}")
        self.cause = cause
        self.setting = setting


class StorageFullError(NovaError):
    """The in-process store is at ``MEMORY_STORE_MAX_KEYS`` with nothing it may evict
    (only limit counters and nonces left), or the outage journal is full. The write is
    refused rather than dropping state that enforces a limit or a conversation turn."""

    reason = "STORAGE_FULL"


class HistoryUnavailableError(NovaError):
    """A conversation the memory fallback cannot vouch for during a Redis outage:
    its history (and owner) may be in Redis, out of reach. Refused rather than
    continued without the turns the safety checks read; retry once Redis is back."""

    reason = "HISTORY_UNAVAILABLE"


class NotReadyError(NovaError):
    """Readiness failed; ``metadata`` holds every check and its state."""

    reason = "NOT_READY"


class ShuttingDownError(NovaError):
    """The server is draining: a call it could not finish in the grace. Another
    replica (or this one, restarted) takes the same request."""

    reason = "SHUTTING_DOWN"

    def __init__(self, message: str = "server shutting down", *, retry_after_s: float = 1.0):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuditSinkUnavailableError(NovaError):
    """The audit sink did not answer a read (the database is down or too slow);
    the caller may try again. Writes never see this: they spill."""

    reason = "AUDIT_SINK_UNAVAILABLE"


class AuditChainBrokenError(NovaError):
    """An audit sink's stored head is below a record this process stored or saw
    stored (a tail cut from the log while it ran): a sink refuses to chain new
    records onto the cut, which would hide it. Writes spill; callers never see it."""

    reason = "AUDIT_CHAIN_BROKEN"


class AuditNotStoredError(NovaError):
    """``AUDIT_STORE_BEFORE_REPLY``: the answer's audit record reached neither the
    sink nor the spill file, so the answer is not released."""

    reason = "AUDIT_NOT_STORED"


class AuditWatchLaggedError(NovaError):
    """An audit watcher fell behind its bounded queue and was cut off."""

    reason = "AUDIT_WATCH_LAGGED"


class AuditWatchInterruptedError(NovaError):
    """An audit watcher lost its feed of other workers' records (Redis down, or a
    record that could not be read back): cut off rather than left missing records.
    It resumes with ``ListAuditEvents`` after the last seq it saw."""

    reason = "AUDIT_WATCH_INTERRUPTED"
