"""The audit record and its canonical encoding.

A record is built from a ``RequestSummary`` when a chat request ends. It keeps
hashes of the prompt and of the released text rather than the text itself;
content is kept only when AUDIT_INCLUDE_CONTENT=true, and then PII-redacted.
The canonical encoding (sorted keys, compact separators, UTF-8, everything but
``hash``) is what the chain hashes, what sinks store and what readers return.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import secrets
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from novaos.config import Settings
from novaos.ports import RequestSummary
from novaos.redaction import Pseudonymizer, pseudonym_secret, redact, redact_client_addr

_log = logging.getLogger("novaos.audit")

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so strings sort as times


def format_time(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, UTC).strftime(TIME_FORMAT)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MICROS = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)


def format_bound(seconds: int, nanos: int) -> str:
    """A list bound given to the nanosecond (1970 on), in record time format.
    Records hold whole microseconds, so the bound is rounded up to one: a record
    at t is at or after s exactly when t >= ceil(s), and before e exactly when
    t < ceil(e), so a start stays inclusive and an end exclusive (rounded to the
    nearest, a start 1 ns after a record still listed it). Integers, not a float."""
    micros = min(seconds * 1_000_000 - (-nanos // 1000), _MAX_MICROS)
    return (_EPOCH + timedelta(microseconds=micros)).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditGate:
    gate: str
    decision: str
    reason: str
    latency_ms: float


@dataclass(frozen=True, slots=True)
class AuditContent:
    """Redacted prompt and released text (only with AUDIT_INCLUDE_CONTENT)."""

    prompt: str
    released: str


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: str
    time: str
    request_id: str
    user: str
    tier: str
    client: str
    outcome: str
    stance: str
    gates: tuple[AuditGate, ...]
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    duration_ms: float
    prompt_sha256: str
    released_sha256: str
    released_chars: int
    policy_version: str = ""
    conversation_id: str = ""
    content: AuditContent | None = None
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""
    key_id: str = ""  # the chain key that sealed it ("" = plain SHA-256; see chain.py)

    @property
    def gate_decisions(self) -> frozenset[str]:
        """``gate:decision`` pairs, as the list filter names them."""
        return frozenset(f"{g.gate}:{g.decision}" for g in self.gates)

    def to_dict(self, *, with_hash: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "seq": self.seq,
            "time": self.time,
            "request_id": self.request_id,
            "user": self.user,
            "tier": self.tier,
            "client": self.client,
            "outcome": self.outcome,
            "stance": self.stance,
            "gates": [
                {
                    "gate": g.gate,
                    "decision": g.decision,
                    "reason": g.reason,
                    "latency_ms": g.latency_ms,
                }
                for g in self.gates
            ],
            "provider": self.provider,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "duration_ms": self.duration_ms,
            "prompt_sha256": self.prompt_sha256,
            "released_sha256": self.released_sha256,
            "released_chars": self.released_chars,
            "policy_version": self.policy_version,
            "conversation_id": self.conversation_id,
            "content": (
                None
                if self.content is None
                else {"prompt": self.content.prompt, "released": self.content.released}
            ),
            "prev_hash": self.prev_hash,
        }
        if self.key_id:  # absent from unkeyed records, whose bytes predate the field
            data["key_id"] = self.key_id
        if with_hash:
            data["hash"] = self.hash
        return data

    def canonical(self) -> bytes:
        """The bytes the hash covers: every field but ``hash`` (seq included)."""
        return encode(self.to_dict(with_hash=False))

    def line(self) -> bytes:
        """The stored form: canonical fields plus ``hash``, one JSON line."""
        return encode(self.to_dict()) + b"\n"


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_TEXT = (
    "id", "time", "request_id", "user", "tier", "client", "outcome", "stance", "provider",
    "model", "prompt_sha256", "released_sha256", "policy_version", "conversation_id",
    "prev_hash",
)  # fmt: skip
_COUNTS = ("seq", "input_tokens", "output_tokens", "released_chars")
_INT64 = 2**63  # the API's and the database's integers


def decode(raw: bytes | str) -> AuditRecord:
    """Parse a stored line; raises ``ValueError`` on anything malformed.

    Every field is type-checked, so a record edited to a wrong JSON type (seq
    "10", a null hash, a time that is not one) is an unreadable record: verify
    names it, listings pass over it, nothing downstream meets the wrong type."""
    try:
        data = _parsed(raw)
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        for name in _TEXT:
            _text(data, name)
        for name in _COUNTS:
            _count(data, name)
        _number(data, "duration_ms")
        parse_time(data["time"])
        for name in ("hash", "key_id"):  # absent from some stored forms: ""
            _text(data, name, default="")
        return AuditRecord(
            id=data["id"], seq=data["seq"], time=data["time"],
            request_id=data["request_id"], user=data["user"], tier=data["tier"],
            client=data["client"], outcome=data["outcome"], stance=data["stance"],
            gates=_gates(data["gates"]),
            provider=data["provider"], model=data["model"],
            input_tokens=data["input_tokens"], output_tokens=data["output_tokens"],
            duration_ms=data["duration_ms"], prompt_sha256=data["prompt_sha256"],
            released_sha256=data["released_sha256"], released_chars=data["released_chars"],
            policy_version=data["policy_version"], conversation_id=data["conversation_id"],
            content=_content(data["content"]),
            prev_hash=data["prev_hash"], hash=data.get("hash", ""),
            key_id=data.get("key_id", ""),
        )  # fmt: skip
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"malformed audit record: {exc}") from exc


def _parsed(raw: bytes | str) -> Any:
    """The line, without its ending, parsed as UTF-8 JSON; else a ``ValueError``
    naming the damage plainly. Given the raw bytes, ``json.loads`` guessed UTF-32
    from a power loss's zeros and took the newline for a second line or a control
    character, and its reasons sent the operator the wrong way."""
    if isinstance(raw, str):
        body = raw.removesuffix("\n")
    else:
        line = raw.removesuffix(b"\n")
        if line and not line.strip(b"\0"):
            raise ValueError(f"a line of {len(line)} zero bytes (a power loss?)")
        if (nul := line.find(b"\0")) >= 0:  # never written raw: JSON escapes it
            raise ValueError(f"a zero byte at position {nul}")
        try:
            body = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(_not_utf8(line, exc)) from None
    if not body.strip():
        raise ValueError("an empty line")
    if body.startswith("\ufeff"):  # json's reason tells a programmer to decode utf-8-sig
        raise ValueError("a byte order mark (BOM) before the record, which is never written")
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        text = body.strip()
        if exc.msg != "Extra data" and (after := _whole_record_from(body, 1)) > 0:
            raise ValueError(
                f"two records run together: one cut short at character {after}, then a whole one"
            ) from None
        if (
            text.startswith("{")
            and exc.msg != "Extra data"
            and (
                not text.endswith("}")
                or exc.pos >= len(body.rstrip())  # it wanted more
                or exc.msg.startswith("Unterminated string")
            )
        ):
            raise ValueError(
                f"a line cut short (it ends after {len(body)} characters, before the record does)"
            ) from None
        raise ValueError(f"not JSON: {exc}") from None


def _not_utf8(line: bytes, exc: UnicodeDecodeError) -> str:
    """Why ``line`` (which fails as UTF-8 at ``exc``) is unreadable: a record cut
    inside a character (at the line's end, or with a whole record after it) reads
    as cut short, not as a stray byte."""
    if exc.end == len(line) and exc.reason == "unexpected end of data":
        return f"a line cut short (it ends after {len(line)} bytes, inside a character)"
    rest = line.find(b'{"', exc.start, exc.start + 5)  # past the rest of the cut character
    if rest > exc.start:
        with contextlib.suppress(UnicodeDecodeError):
            if _whole_record_from(line[rest:].decode("utf-8"), 0) == 0:
                return (
                    f"two records run together: one cut short at byte {exc.start}"
                    " (inside a character), then a whole one"
                )
    return f"not UTF-8 text: byte 0x{line[exc.start]:02x} at position {exc.start}"


_RUN_ON_TRIES = 64  # '{"' openings tried: a garbage line must not cost more


def _whole_record_from(text: str, start: int) -> int:
    """Where a whole record (a JSON object with a ``seq``) begins at or after
    ``start`` and runs to the end of ``text`` (a record cut short and another
    written after it, on one line); -1 when none does."""
    decoder = json.JSONDecoder()
    at = start
    for _ in range(_RUN_ON_TRIES):
        if (at := text.find('{"', at)) < 0:
            break
        with contextlib.suppress(ValueError):
            data, end = decoder.raw_decode(text, at)
            if end == len(text.rstrip()) and isinstance(data, dict) and "seq" in data:
                return at
        at += 1
    return -1


def decode_stored(line: bytes) -> AuditRecord:
    """A stored line (newline included) as a record: ``decode``, and the line must
    be the one the record is written as (``line()``), byte for byte. Verify checks
    the record's hash, which covers its fields, not the line: a key no record has
    added to a line (``"note":"hard_veto"``, found by a ``grep`` of the files) would
    verify, and so would re-spacing. ``ValueError`` (an unreadable record) for both."""
    record = decode(line)
    if record.line() != line:
        raise ValueError(
            f"malformed audit record: record {record.seq} is not stored as written"
            f" ({_unwritten(line, record)})"
        )
    return record


def _unwritten(line: bytes, record: AuditRecord) -> str:
    """How ``line`` differs from the line ``record`` is written as."""
    stored, written = set(json.loads(line)), set(record.to_dict())
    if extra := sorted(stored - written):
        return "a field no record has, not covered by its hash: " + ", ".join(extra)[:200]
    if missing := sorted(written - stored):
        return "missing " + ", ".join(missing)
    return "spacing, escapes, key order, a repeated key or the line ending changed"


def _text(data: dict[str, Any], name: str, *, default: str | None = None) -> None:
    value = data[name] if default is None else data.get(name, default)
    if not isinstance(value, str):
        raise TypeError(f"{name} is not a string: {value!r:.40}")


def _count(data: dict[str, Any], name: str) -> None:
    value = data[name]
    if type(value) is not int or not 0 <= value < _INT64:  # a bool is an int: not here
        raise TypeError(f"{name} is not a whole number: {value!r:.40}")


def _number(data: dict[str, Any], name: str) -> None:
    value = data[name]
    if type(value) not in (int, float) or not math.isfinite(value):
        raise TypeError(f"{name} is not a number: {value!r:.40}")


def _gates(raw: object) -> tuple[AuditGate, ...]:
    if not isinstance(raw, list):
        raise TypeError("gates is not a list")
    gates = []
    for gate in raw:
        if not isinstance(gate, dict) or set(gate) != {"gate", "decision", "reason", "latency_ms"}:
            raise TypeError(f"a gate is not gate, decision, reason, latency_ms: {gate!r:.60}")
        for name in ("gate", "decision", "reason"):
            _text(gate, name)
        _number(gate, "latency_ms")
        gates.append(AuditGate(**gate))
    return tuple(gates)


def _content(raw: object) -> AuditContent | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"prompt", "released"}:
        raise TypeError("content is not null or prompt and released")
    _text(raw, "prompt")
    _text(raw, "released")
    return AuditContent(**raw)


@dataclass(frozen=True, slots=True)
class AuditPolicy:
    """How summaries become records: pseudonyms, redaction, content."""

    redact_pii: bool = True
    include_content: bool = False
    pseudonymize: Pseudonymizer = field(default_factory=lambda: Pseudonymizer(b""))

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditPolicy:
        key = pseudonym_secret(settings)
        if key is None:
            # No configured key: pseudonyms stay unlinkable, but change across
            # restarts. Say so once rather than fall back to plain ids.
            key = secrets.token_bytes(32)
            if settings.redact_pii:
                _log.warning("audit: no AUDIT_HMAC_KEY or JWT_SECRET; pseudonyms are per-process")
        return cls(
            redact_pii=settings.redact_pii,
            include_content=settings.audit_include_content,
            pseudonymize=Pseudonymizer(key),
        )

    def user_ref(self, user_id: str) -> str:
        """What the ``user`` field (and the list filter) holds for a user id."""
        return self.pseudonymize(user_id) if self.redact_pii else user_id


def build_record(
    summary: RequestSummary, policy: AuditPolicy, *, ended_unix: float, record_id: str = ""
) -> AuditRecord:
    """An unsealed record (seq 0, no hashes); the writer chains it."""
    scrub = _redacted_reason if policy.redact_pii else str
    content = None
    if policy.include_content:
        content = AuditContent(redact(summary.prompt), redact(summary.released_text))
    return AuditRecord(
        id=record_id or uuid.uuid4().hex,
        time=format_time(ended_unix),
        request_id=summary.request_id,
        user=policy.user_ref(summary.user_id),
        tier=summary.tier,
        client=_client(summary.client_addr, policy),
        outcome=summary.outcome,
        stance=summary.stance,
        gates=tuple(
            AuditGate(g.gate, g.decision, scrub(g.reason), round(g.latency_ms, 3))
            for g in summary.gates
        ),
        provider=summary.provider,
        model=summary.model,
        input_tokens=summary.usage.input_tokens,
        output_tokens=summary.usage.output_tokens,
        duration_ms=round(summary.duration_ms, 3),
        prompt_sha256=sha256_hex(summary.prompt),
        released_sha256=sha256_hex(summary.released_text),
        released_chars=len(summary.released_text),
        policy_version=summary.policy_version,
        conversation_id=summary.conversation_id,
        content=content,
    )


@lru_cache(maxsize=1024)
def _redacted_reason(reason: str) -> str:
    """A gate's reason, redacted. Gates write their reasons from a small set of
    texts, eight of them a request: nine patterns over each was two thirds of a
    record's cost (310 -> 58 us, bench/README). A pure function, so a memo."""
    return redact(reason)


def _client(addr: str, policy: AuditPolicy) -> str:
    return redact_client_addr(addr) if policy.redact_pii else addr


def with_chain(
    record: AuditRecord, *, seq: int, prev_hash: str, digest: str, key_id: str = ""
) -> AuditRecord:
    return replace(record, seq=seq, prev_hash=prev_hash, hash=digest, key_id=key_id)
