"""The sink contract every audit store implements, and the list query.

Sinks store sealed records in chain order. ``append`` re-chains a batch when
the stored head moved underneath the writer (another worker process sharing
the file directory or database), so the chain stays one line across workers.
A head that moved back (records cut from the tail), or moved on from a record
other than the last one this process stored or saw, is not chained onto.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from novaos.audit.chain import ChainHead
from novaos.audit.record import AuditRecord
from novaos.errors import InvalidArgumentError

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """List filters; empty strings and ``None`` mean "any"."""

    user: str = ""
    start_time: str = ""  # inclusive, record time format (sorts as text)
    end_time: str = ""  # exclusive
    outcome: str = ""
    stance: str = ""
    gate_decision: str = ""  # "gate:decision"
    after_seq: int = 0  # seq greater than this: the request's, or its page token's
    limit: int = DEFAULT_PAGE_SIZE

    def matches(self, record: AuditRecord) -> bool:
        return (
            record.seq > self.after_seq
            and (not self.user or record.user == self.user)
            and (not self.start_time or record.time >= self.start_time)
            and (not self.end_time or record.time < self.end_time)
            and (not self.outcome or record.outcome == self.outcome)
            and (not self.stance or record.stance == self.stance)
            and (not self.gate_decision or self.gate_decision in record.gate_decisions)
        )


@dataclass(frozen=True, slots=True)
class AuditPage:
    records: tuple[AuditRecord, ...]
    next_page_token: str = ""


_MAX_SEQ = 2**63 - 1


def encode_page_token(last_seq: int) -> str:
    raw = json.dumps({"after": last_seq}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> int:
    """The seq the next page starts after; ``InvalidArgumentError`` if forged."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        after = json.loads(raw)["after"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidArgumentError("page_token", "not a token from a previous page") from exc
    # Not isinstance: a bool is an int, and {"after": true} read as seq 1. No seq
    # exceeds an int64 (the API's and the database's type).
    if type(after) is not int or not 0 <= after <= _MAX_SEQ:
        raise InvalidArgumentError("page_token", "not a token from a previous page")
    return after


def page_of(matches: Sequence[AuditRecord], limit: int) -> AuditPage:
    """Sinks fetch ``limit + 1`` matches; the extra one says a next page exists."""
    records = tuple(matches[:limit])
    more = len(matches) > limit and records
    return AuditPage(records, encode_page_token(records[-1].seq) if more else "")


class AuditSink(Protocol):
    """Where sealed records live. Errors other than ``ValueError`` mean "down"."""

    name: str

    @property
    def high(self) -> ChainHead:
        """The last record (seq and hash) this process has stored or seen stored.
        Other workers only add records after it, so a stored head below it, or
        another record stored at its seq, is a tail cut (rewritten, in the second
        case, by a worker that never saw it): appends refuse it
        (``AuditChainBrokenError``) and verify expects the chain to reach it, and
        to hold it."""
        ...

    async def open(self) -> ChainHead:
        """Prepare storage (migrations, crash recovery) and return the head."""
        ...

    async def append(self, records: Sequence[AuditRecord]) -> builtins.list[AuditRecord]:
        """Store records in order, atomically; returns them as stored."""
        ...

    async def list(self, query: AuditQuery) -> AuditPage: ...

    async def get(self, record_id: str) -> AuditRecord | None: ...

    async def range(
        self, from_seq: int, to_seq: int, *, limit: int = 1000
    ) -> builtins.list[AuditRecord]:
        """Records with ``from_seq <= seq <= to_seq`` in storage order, at most ``limit``."""
        ...

    async def head(self) -> ChainHead: ...

    async def aclose(self) -> None: ...
