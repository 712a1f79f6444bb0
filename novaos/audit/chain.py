"""The hash chain: each record's hash covers its canonical bytes, which include
its sequence number and the previous record's hash.

Editing a record breaks its own hash; deleting, reordering or inserting one
breaks the sequence or the link at that record. ``ChainVerifier`` walks
records in storage order and reports the first break, so a reader can verify
a long range page by page without holding it all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from novaos.audit.record import AuditRecord, with_chain

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last record written: the next one gets ``seq + 1`` and links ``hash``."""

    seq: int = 0
    hash: str = GENESIS_HASH


def digest(record: AuditRecord) -> str:
    return hashlib.sha256(record.canonical()).hexdigest()


def seal(record: AuditRecord, head: ChainHead) -> AuditRecord:
    """Chain ``record`` onto ``head``."""
    linked = with_chain(record, seq=head.seq + 1, prev_hash=head.hash, digest="")
    return with_chain(linked, seq=linked.seq, prev_hash=head.hash, digest=digest(linked))


def seal_all(records: Iterable[AuditRecord], head: ChainHead) -> list[AuditRecord]:
    """Chain records in order onto ``head``.

    Sinks call this again when another process moved the head since the
    writer sealed the batch; ids and contents stay, seq and hashes follow.
    """
    sealed: list[AuditRecord] = []
    for record in records:
        chained = seal(record, head)
        head = ChainHead(chained.seq, chained.hash)
        sealed.append(chained)
    return sealed


def head_of(records: Sequence[AuditRecord], default: ChainHead) -> ChainHead:
    return ChainHead(records[-1].seq, records[-1].hash) if records else default


def links_onto(records: Sequence[AuditRecord], head: ChainHead) -> bool:
    """Does the whole batch chain onto ``head`` as it is? Every record, not only
    the first: a replay can join records sealed on two different heads (a
    restart that found a spill while the sink was down seals new records from
    zero), and storing those as they are breaks the chain for good."""
    for record in records:
        if record.seq != head.seq + 1 or record.prev_hash != head.hash:
            return False
        head = ChainHead(record.seq, record.hash)
    return True


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int = 0
    problem: str = ""


class ChainVerifier:
    """Feed records in storage order; the first break sticks.

    ``start_seq`` is the sequence number the first record must have;
    ``anchor`` the hash it must link to (the previous record's, or the
    genesis hash for seq 1; ``None`` when unknown, e.g. evicted from memory).
    """

    def __init__(self, *, start_seq: int = 1, anchor: str | None = GENESIS_HASH) -> None:
        self._expected = start_seq
        self._prev_hash = anchor
        self._checked = 0
        self._bad: VerifyResult | None = None

    @property
    def failed(self) -> bool:
        return self._bad is not None

    def feed(self, record: AuditRecord) -> bool:
        """Check one record; ``False`` once the chain is broken."""
        if self._bad is not None:
            return False
        problem = self._problem(record)
        if problem:
            self._bad = VerifyResult(False, self._checked, self._expected, problem)
            return False
        self._checked += 1
        self._expected = record.seq + 1
        self._prev_hash = record.hash
        return True

    def _problem(self, record: AuditRecord) -> str:
        expected = self._expected
        if record.seq > expected:
            return f"record {expected} missing: found {record.seq} (deleted or moved)"
        if record.seq < expected:
            return f"record {record.seq} found where {expected} belongs (reordered or inserted)"
        if digest(record) != record.hash:
            return f"record {expected} edited: its hash does not match its contents"
        if self._prev_hash is not None and record.prev_hash != self._prev_hash:
            return f"record {expected} does not link to the previous one (inserted or replaced)"
        return ""

    def result(self, *, expected_last_seq: int | None = None) -> VerifyResult:
        """The verdict; ``expected_last_seq`` also catches a truncated tail."""
        if self._bad is not None:
            return self._bad
        if expected_last_seq is not None and self._expected <= expected_last_seq:
            missing = self._expected
            return VerifyResult(False, self._checked, missing, f"record {missing} missing (tail)")
        return VerifyResult(True, self._checked)


def verify(
    records: Iterable[AuditRecord], *, start_seq: int = 1, anchor: str | None = GENESIS_HASH
) -> VerifyResult:
    verifier = ChainVerifier(start_seq=start_seq, anchor=anchor)
    for record in records:
        if not verifier.feed(record):
            break
    return verifier.result()
