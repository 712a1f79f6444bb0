"""Domain types shared by services, the pipeline and transport.

Plain dataclasses and enums: no grpc, no protobuf. Transport converts these to
and from the wire types in one place (``novaos.transport.convert``).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field


class Tier(enum.StrEnum):
    FREE = "free"
    PRO = "pro"
    ENTERPRISE = "enterprise"


class Outcome(enum.StrEnum):
    COMPLETED = "completed"
    CONTROL = "control"
    HARD_VETO = "hard_veto"
    ACK_REQUIRED = "ack_required"
    OUTPUT_BLOCKED = "output_blocked"
    UPSTREAM_TRUNCATED = "upstream_truncated"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Stance(enum.StrEnum):
    CONTROL = "control"
    SHIELD = "shield"
    LENS = "lens"
    SWORD = "sword"


class Decision(enum.StrEnum):
    PASS = "pass"
    FLAG = "flag"
    DEGRADE = "degrade"
    STOP = "stop"
    AWAIT_ACK = "await_ack"
    REGENERATE = "regenerate"
    EDIT = "edit"


# The gates, in the order they run (novaos.pipeline.orchestrator).
CANONICAL_ORDER = (
    "intent",
    "shield",
    "lens",
    "stance",
    "capability",
    "model",
    "personality",
    "spark",
)
# Entries among the gate records that are no gates: the final invariant check
# failing closed, and a provider's stream dropped for the next one.
INVARIANTS, FAILOVER = "invariants", "failover"

# What the audit log's list filters can name; any other value matches no record.
AUDIT_FILTERS: dict[str, frozenset[str]] = {
    "outcome": frozenset(Outcome),
    "stance": frozenset(Stance),
    "gate": frozenset((*CANONICAL_ORDER, INVARIANTS, FAILOVER)),
    "decision": frozenset(Decision),
}


def audit_filter_refusal(name: str, value: str) -> str | None:
    """Why a list filter (``outcome``, ``stance``, ``gate_decision``) matches no
    record: a typo, said rather than listing nothing (the server's INVALID_ARGUMENT,
    ``novaos audit list``'s usage error). Empty is no filter."""
    if not value:
        return None
    if name == "gate_decision":
        # One message for every way to miss, the form first: "shieldstop" was told
        # only the gate names, as if it were a gate's.
        gate, _, decision = value.partition(":")
        if gate in AUDIT_FILTERS["gate"] and decision in AUDIT_FILTERS["decision"]:
            return None
        return (
            f"must be gate:decision (e.g. shield:stop), the gate one of "
            f"{', '.join(sorted(AUDIT_FILTERS['gate']))}, the decision one of "
            f"{', '.join(sorted(AUDIT_FILTERS['decision']))}"
        )
    allowed = AUDIT_FILTERS[name]
    return None if value in allowed else f"must be one of {', '.join(sorted(allowed))}"


# Anonymous callers (REQUIRE_AUTH=false) are known by address under this prefix:
# their limits, conversations and veto throttle. A token's subject never takes it.
ANONYMOUS_PREFIX = "ip:"
# What no subject holds: controls (C0, C1), surrogates, line and paragraph separators
# (a line break in the log and the audit record, a terminal's escape); the bidi
# controls, which reorder what is shown around them; and the format characters that
# show nothing and join nothing, so "al\u200bice" would be another caller who reads
# as alice. Other format characters are parts of ordinary names: ZWNJ (Persian),
# ZWJ (Indic scripts, emoji sequences), tag characters (subdivision flags), the
# soft hyphen.
_NOT_IN_A_NAME = frozenset({"Cc", "Cs", "Zl", "Zp"})
_HIDDEN = re.compile(
    "[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidi marks, embeddings, isolates
    "|[\u180e\u200b\u2060-\u2064\u206a-\u206f\ufeff]"  # invisible, joining nothing
)


def subject_refusal(sub: str) -> str | None:
    """Why no token with this subject is accepted (``novaos token`` refuses to mint it)."""
    if not sub.strip():
        return "sub: blank, it names nobody"  # every blank token would be one caller
    if sub != sub.strip():
        # "alice " would be another caller than alice, with limits of its own.
        return "sub: begins or ends with whitespace"
    if sub.startswith(ANONYMOUS_PREFIX):
        # It would share an anonymous caller's limits and conversations.
        return f"sub: the {ANONYMOUS_PREFIX!r} prefix is reserved for anonymous callers"
    hidden = (c for c in sub if unicodedata.category(c) in _NOT_IN_A_NAME or _HIDDEN.match(c))
    if found := next(hidden, None):
        return f"sub: holds a control or invisible character (U+{ord(found):04X})"
    if all(unicodedata.category(c) == "Cf" or c.isspace() for c in sub):
        # "\u200d" alone: a name nobody can read or type.
        return "sub: holds no visible character"
    return None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: JWT ``sub`` or, without auth, the client address."""

    user_id: str
    tier: Tier = Tier.FREE
    roles: frozenset[str] = frozenset()
    anonymous: bool = False

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Per-request facts that travel explicitly from transport downwards."""

    request_id: str
    principal: Principal
    client_addr: str = ""
    deadline_monotonic: float | None = None  # time.monotonic() value, None = no deadline


# A model id as providers spell them (gpt-4o-2024-08-06, ft:gpt-4o-mini:org:custom:id,
# models/gemini-1.5-pro-002, claude-3-5-sonnet@20240620, meta-llama/Llama-3.1-8B-Instruct,
# llama3.1:8b-instruct-q4_K_M): it reaches upstream requests, audit records and the
# llm_token_usage_total label, so no spaces, control characters or kilobytes. Nor a
# "." or ".." segment between slashes: Gemini's model is part of the URL path, and
# "x/../../other" would take the request (and the gateway's API key) out of
# GEMINI_BASE_URL's path to another one on that host.
MODEL_ID = re.compile(r"(?!(?:.*/)?\.\.?(?:/|$))[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")
MODEL_ID_RULE = (
    "use up to 200 letters, digits or . _ : / @ + -, starting with a letter or digit,"
    " with no . or .. between slashes"
)


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    provider: str = ""
    model: str = ""
    max_tokens: int = 0
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class ChatInput:
    message: str
    conversation_id: str = ""
    ack_token: str = ""
    options: GenerationOptions = field(default_factory=GenerationOptions)
    requested_actions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )


@dataclass(frozen=True, slots=True)
class GateRecord:
    """One gate's decision as streamed, counted and audited."""

    gate: str
    decision: Decision
    reason: str = ""
    latency_ms: float = 0.0


def gates_run(gates: Iterable[str]) -> tuple[str, ...]:
    """The gates that ran, in order, from their decisions' gate names: a gate that
    reported more than one decision (personality: a regeneration, then an edit of
    the draft that shipped) once."""
    names: list[str] = []
    for gate in gates:
        if not names or names[-1] != gate:
            names.append(gate)
    return tuple(names)


@dataclass(frozen=True, slots=True)
class SparkSuggestion:
    action: str
    minutes: int


# ---- stream events (what a chat service yields) ----


@dataclass(frozen=True, slots=True)
class Started:
    request_id: str
    conversation_id: str = ""


@dataclass(frozen=True, slots=True)
class GateEvent:
    record: GateRecord


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class AckRequired:
    token: str
    prompt: str
    expires_at_unix: int
    reason: str


@dataclass(frozen=True, slots=True)
class Completed:
    outcome: Outcome
    stance: Stance | None  # None: the request ended before the stance gate decided one
    usage: Usage
    gates_executed: tuple[str, ...]
    request_id: str
    provider: str = ""
    model: str = ""
    spark: SparkSuggestion | None = None
    detail: str = ""
    conversation_id: str = ""
    released_chars: int = 0


@dataclass(frozen=True, slots=True)
class Keepalive:
    """Nothing to send yet, but the stream is alive (text held back, a slow provider,
    an audit watch with no new record)."""


ChatEvent = Started | GateEvent | TextDelta | AckRequired | Completed | Keepalive
