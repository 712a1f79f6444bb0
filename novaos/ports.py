"""Ports: the interfaces the domain needs from the outside world.

Adapters implement them (``RedisStore``, ``OpenAIProvider``, ``PostgresAuditSink``,
...); only the composition root (``novaos.app``) picks adapters. Fakes live in
the package beside the real ones so tests and ``make run`` share them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from novaos.domain import Usage

# ---------------------------------------------------------------- providers


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class OpenedTurn:
    """A conversation as a chat request found it; its history write takes this
    back instead of reading the conversation again.

    ``created`` is the conversation's creation time, None when it is new.
    ``ours``: the caller already held the id's claim when it was read (or the
    id is one the server just made up), so the write need not check it.
    ``outage``: read during a storage outage from the memory fallback, which
    held all of its turns then: that outage's number (``StoreFallback``'s
    ``recoveries``); None when read from the shared store."""

    messages: tuple[ChatMessage, ...]
    created: int | None
    ours: bool
    outage: int | None = None

    @classmethod
    def fresh(cls) -> OpenedTurn:
        """A conversation id the server generated for this request: nothing to read."""
        return cls((), None, ours=True)


@dataclass(frozen=True, slots=True)
class TurnEnding:
    """How an answer's stream ended (its terminal event), stored with the answer's
    turn so a page that shows the conversation again can say it was cut or
    blocked rather than pass it off as complete. ``outcome``: an Outcome value."""

    outcome: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    messages: tuple[ChatMessage, ...]
    model: str = ""  # empty: the provider's default
    max_tokens: int = 512
    temperature: float | None = None
    deadline_monotonic: float | None = None  # propagate the caller's deadline
    preferred_provider: str = ""  # empty: the router's order


@dataclass(frozen=True, slots=True)
class ProviderChunk:
    """A piece of an upstream stream. ``usage`` arrives on the last chunk(s)."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str = ""
    provider: str = ""  # filled by the router
    model: str = ""
    # Reasoning / thinking text: never answer text, but billed as output, so a
    # stream cut before any answer still counts it (``novaos.pipeline.generation``).
    reasoning: str = ""
    # Set (to the cause, e.g. "stream_cut") when the provider named here broke
    # before any of its text was released: everything it passed on is void and
    # must never be released; ``usage`` is what that attempt is charged. The
    # router moves on to the next provider, whose naming chunk follows.
    restart: str = ""
    # The usage the provider has reported so far, mid-stream (Anthropic's prompt
    # count at message_start, Gemini's running usageMetadata, an OpenAI usage
    # chunk before [DONE]): not the final ``usage``, but what a stream given up
    # on from here (cancel, deadline, a break) is charged from. On the chunk
    # after which it changed; 0 is a count not given yet.
    reported: Usage | None = None
    # The provider answered (HTTP 200) and its body begins: a stream that fails
    # from here read the prompt and is charged, a stall as much as a cut. Only
    # the router sees it; it neither restarts the idle timer nor counts as a chunk.
    accepted: bool = False


@dataclass(frozen=True, slots=True)
class ProviderResponse:
    text: str
    usage: Usage
    model: str
    finish_reason: str = "stop"
    provider: str = ""


# Told which provider (and model) a routed call goes to, before it is called.
Routed = Callable[[str, str], None]
# Asked when a stream breaks after text was passed on: has any of it reached the client?
Released = Callable[[], bool]
# Told of a whole (unary) call that failed after its provider accepted it: a chunk
# naming the provider with the usage that attempt is charged, ``restart`` set (to the
# cause) when the next provider is called next. Awaited before that call.
Dropped = Callable[[ProviderChunk], Awaitable[None]]


@runtime_checkable
class Provider(Protocol):
    """One LLM backend. Errors: ``novaos.providers.errors``."""

    name: str
    default_model: str

    def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderChunk]: ...

    async def complete(self, request: ProviderRequest) -> ProviderResponse: ...

    async def aclose(self) -> None: ...


class ModelRouter(Protocol):
    """Picks a provider (preferred, then fallbacks) behind circuit breakers.

    Raises ``CircuitOpenError`` when every circuit is open,
    ``ProviderUnavailableError`` when all failed before the first chunk
    (``ProviderRejectedRequestError`` when each one called refused the request
    itself with a 4xx, and none was skipped), and
    ``UpstreamTruncatedError`` when a stream breaks after text reached the client
    (it counts the characters passed on; the consumer, which knows how many
    reached the client, says so with ``released``).
    """

    def stream(
        self, request: ProviderRequest, *, released: Released | None = None
    ) -> AsyncIterator[ProviderChunk]:
        """Before each provider is called, a chunk naming only it (and the model).

        ``released()``: has any of the text passed on reached the client? While
        it says no, a stream that breaks is given up with a ``restart`` chunk and
        the next provider answers instead. Without it, text passed on counts as
        released: a break after it is a truncation."""
        ...

    async def complete(
        self,
        request: ProviderRequest,
        *,
        routed: Routed | None = None,
        dropped: Dropped | None = None,
    ) -> ProviderResponse:
        """``routed(provider, model)`` before each provider is called: a call given up
        on while it answers is still charged, and counted under that provider.

        ``dropped``: awaited for each provider that failed after it accepted the
        request (a body cut, stalled, malformed), which is charged as a broken
        stream is, before the next provider is called or the final error raised."""
        ...


class TokenBudget(Protocol):
    """The request's tokens/min reservation (its admission lease), grown before each upstream call.

    ``reserve(total)`` makes the reservation at least ``total`` tokens, charging
    the difference atomically against the caller's tokens/min limit, or raises
    ``RateLimitedError`` (nothing charged) so the upstream is never called over budget
    (``OverTokenLimitError`` when the first call's reservation alone is above the
    whole limit: no wait helps). ``retry``: a later call of the same request (a
    failover, a regeneration), whose ``total`` holds what the earlier calls are
    charged: over the limit, whole or what is left of it, it is only ever
    ``RateLimitedError``, since the request asked again from the start fits.
    """

    async def reserve(self, total_tokens: int, *, retry: bool = False) -> None: ...


@dataclass(frozen=True, slots=True)
class CircuitInfo:
    """One provider's breaker, as ListCircuits / GetHealth show it."""

    provider: str
    state: int  # 0 closed, 1 open, 2 half-open: the ``circuit_breaker_state`` gauge values
    consecutive_failures: int
    retry_at_unix: float = 0.0  # when an open breaker lets a probe through; 0 otherwise


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    name: str
    model: str
    configured: bool


class CircuitAdmin(Protocol):
    """What the health service needs from the router (the admin reset included)."""

    def circuits(self) -> list[CircuitInfo]: ...

    def providers(self) -> list[ProviderInfo]: ...

    def reset(self, provider: str) -> CircuitInfo: ...


# ---------------------------------------------------------------- storage


@dataclass(frozen=True, slots=True)
class StoreHealth:
    backend: str  # memory | redis | redis_cluster
    status: str  # ok | fallback | down
    latency_ms: float = 0.0
    cause: str = ""  # why, when on fallback (the latest failure Redis gave); not published


@dataclass(frozen=True, slots=True)
class GetOp:
    key: str


@dataclass(frozen=True, slots=True)
class SetOp:
    key: str
    value: bytes
    ttl_ms: int | None = None
    nx: bool = False


@dataclass(frozen=True, slots=True)
class PushOp:
    """``KeyValueStore.list_push`` in a batch: ``values`` appended as one push."""

    key: str
    values: tuple[bytes, ...]
    max_len: int
    ttl_ms: int | None = None
    op_id: str = ""  # see ``KeyValueStore.list_push``

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError(f"a push to {self.key!r} needs a value")


@dataclass(frozen=True, slots=True)
class RangeOp:
    key: str
    start: int = 0
    end: int = -1


@dataclass(frozen=True, slots=True)
class LenOp:
    key: str


@dataclass(frozen=True, slots=True)
class ExpireOp:
    key: str
    ttl_ms: int


@dataclass(frozen=True, slots=True)
class RankOp:
    """``KeyValueStore.ranked_add`` in a batch."""

    key: str
    member: bytes
    score: int
    max_len: int
    ttl_ms: int | None = None


@dataclass(frozen=True, slots=True)
class TopOp:
    """``KeyValueStore.ranked_top`` in a batch."""

    key: str
    count: int
    min_score: int | None = None


@dataclass(frozen=True, slots=True)
class UnrankOp:
    """``KeyValueStore.ranked_remove`` in a batch."""

    key: str
    members: tuple[bytes, ...]


# One step of ``KeyValueStore.batch``; each gives what its single-call method returns.
StoreOp = GetOp | SetOp | PushOp | RangeOp | LenOp | ExpireOp | RankOp | TopOp | UnrankOp


class StoreFallback(Protocol):
    """Whether a store answers from its outage fallback (``FailoverStore``): memory
    that starts empty at each outage, so it holds only what was written since.

    ``recoveries`` numbers the outages: it goes up each time one ends."""

    @property
    def primary_available(self) -> bool: ...

    @property
    def recoveries(self) -> int: ...


class KeyValueStore(Protocol):
    """Async key-value store used for nonces, history, sessions and spark limits."""

    backend: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(
        self, key: str, value: bytes, *, ttl_ms: int | None = None, nx: bool = False
    ) -> bool: ...

    async def delete(self, *keys: str) -> int: ...

    async def incr(self, key: str, amount: int = 1, *, ttl_ms: int | None = None) -> int: ...

    async def list_push(
        self,
        key: str,
        *values: bytes,
        max_len: int,
        ttl_ms: int | None = None,
        op_id: str = "",
    ) -> None:
        """Append ``values`` (one or more), in order and all at once: no other push
        lands between them, on any backend (a conversation's question and answer
        stay adjacent). Then keep the last ``max_len`` and refresh the TTL. With an
        ``op_id`` the push is applied once however often it is sent (a write
        retried because its reply was lost, or copied back after an outage
        although Redis had it): all of its values, or none."""
        ...

    async def list_range(self, key: str, start: int = 0, end: int = -1) -> list[bytes]: ...

    async def list_len(self, key: str) -> int: ...

    async def expire(self, key: str, ttl_ms: int) -> bool:
        """Give an existing key a new TTL, its value untouched; False if there is none."""
        ...

    # A ranked set (a Redis sorted set): members with integer scores, read highest first.

    async def ranked_add(
        self, key: str, member: bytes, score: int, *, max_len: int, ttl_ms: int | None = None
    ) -> None:
        """Add ``member`` with ``score``, or raise its score to ``score``: a score never
        goes down (ZADD GT), so the same add sent twice, or an older one sent late,
        changes nothing. Then keep the ``max_len`` highest and refresh the TTL."""
        ...

    async def ranked_top(
        self, key: str, count: int, *, min_score: int | None = None
    ) -> list[bytes]:
        """Up to ``count`` members scoring at least ``min_score``, highest first; equal
        scores by member, greatest bytes first (the order of Redis's ZREVRANGEBYSCORE)."""
        ...

    async def ranked_remove(self, key: str, *members: bytes) -> int:
        """Remove ``members``; how many were there."""
        ...

    async def batch(self, ops: Sequence[StoreOp]) -> list[object]:
        """Run ``ops`` in order and return their results, in one round trip where the
        backend allows (one Redis server: a MULTI/EXEC transaction). A caller must
        not need one op's result to build the next; each op behaves as it does alone."""
        ...

    def check_room(self, key: str, writes: int) -> None:
        """Raise ``StorageFullError`` if ``writes`` more writes to keys like ``key``
        would be refused now, as far as the store knows without a round trip (the
        Redis failover's outage journal is full). Nothing is set aside: a write
        may still be refused when it comes, if others took the room first."""
        ...

    async def health(self) -> StoreHealth: ...

    async def aclose(self) -> None: ...


# ---------------------------------------------------------------- web fetch


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    result: str  # ok | blocked | timeout | too_large | error
    text: str = ""
    reason: str = ""
    content_type: str = ""


class WebFetcher(Protocol):
    async def fetch(self, url: str) -> FetchResult: ...


# ---------------------------------------------------------------- audit


@dataclass(frozen=True, slots=True)
class AuditGateEntry:
    gate: str
    decision: str
    reason: str
    latency_ms: float


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """Everything the audit needs about one finished chat request.

    Built by the chat service when a request ends (any outcome, cancel
    included); the audit module hashes, pseudonymises and chains it.
    """

    request_id: str
    user_id: str
    tier: str
    client_addr: str
    outcome: str
    stance: str
    gates: tuple[AuditGateEntry, ...]
    provider: str
    model: str
    usage: Usage
    duration_ms: float
    prompt: str
    released_text: str
    policy_version: str = ""
    conversation_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class AuditLog(Protocol):
    """Accepts summaries without blocking the request (bounded queue); set to
    store before replying, returns once the record is stored and raises
    ``AuditNotStoredError`` when it could not be."""

    async def record(self, summary: RequestSummary) -> None: ...


class Broadcast(Protocol):
    """One channel every process of a deployment hears (Redis pub/sub). A lost
    connection raises ``StorageUnavailableError``; nothing is replayed after it."""

    async def publish(self, message: bytes) -> None: ...

    def listen(self, subscribed: Callable[[], Awaitable[None]]) -> AsyncIterator[bytes]:
        """Subscribe, await ``subscribed()``, then yield every message heard."""
        ...

    async def aclose(self) -> None: ...
