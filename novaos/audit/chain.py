"""The hash chain: each record's hash covers its canonical bytes, which include
its sequence number and the previous record's hash.

Editing a record breaks its own hash; deleting, reordering or inserting one
breaks the sequence or the link at that record. ``ChainVerifier`` walks
records in storage order and reports the first break, so a reader can verify
a long range page by page without holding it all.

With a chain key (``AUDIT_CHAIN_KEY``) the hash is an HMAC-SHA256 under that
key, and each record names the key by an id (``key_id``, derived from the key,
never the key). Someone who can rewrite the storage but does not hold the key
cannot recompute the hashes, so a rewritten log fails verification too. Records
sealed before the key was set stay plain SHA-256; once a keyed record is seen, a
later unkeyed one is a break (a rewrite without the key), and the verifier
counts the unkeyed records it accepted, so a log rewritten unkeyed from its first
record shows as such. Keys retired from sealing (``AUDIT_CHAIN_PREVIOUS_KEYS``)
still verify the records they sealed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from novaos.audit.record import AuditRecord, with_chain
from novaos.errors import AuditChainBrokenError

GENESIS_HASH = "0" * 64
_KEY_ID_LABEL = b"novaos audit chain key id"


def key_id(key: bytes) -> str:
    """A key's public name: 16 hex digits of an HMAC under it (not the key)."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ChainKeys:
    """The key new records are sealed with (none: plain SHA-256) and every key
    that verifies, by id."""

    sealing: bytes | None = None
    verifying: Mapping[str, bytes] = field(default_factory=dict)
    sealing_id: str = ""  # ``key_id(sealing)``, derived once, not per record sealed

    @classmethod
    def of(cls, current: bytes | None, previous: Iterable[bytes] = ()) -> ChainKeys:
        keys = [k for k in (current, *previous) if k]
        return cls(
            current or None, {key_id(k): k for k in keys}, key_id(current) if current else ""
        )

    @property
    def keyed(self) -> bool:
        return bool(self.verifying)


UNKEYED = ChainKeys()


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last record written: the next one gets ``seq + 1`` and links ``hash``."""

    seq: int = 0
    hash: str = GENESIS_HASH


def digest(record: AuditRecord, keys: ChainKeys = UNKEYED) -> str | None:
    """The hash ``record`` should carry: SHA-256 of its canonical bytes, or their
    HMAC under the key it names; ``None`` when that key is not in ``keys``."""
    if not record.key_id:
        return hashlib.sha256(record.canonical()).hexdigest()
    key = keys.verifying.get(record.key_id)
    if key is None:
        return None
    return hmac.new(key, record.canonical(), hashlib.sha256).hexdigest()


def sound(record: AuditRecord, keys: ChainKeys = UNKEYED) -> bool:
    """Does ``record``'s hash match its contents (under the key it names)?"""
    expected = digest(record, keys)
    return expected is not None and hmac.compare_digest(expected, record.hash)


def seal(record: AuditRecord, head: ChainHead, keys: ChainKeys = UNKEYED) -> AuditRecord:
    """Chain ``record`` onto ``head``, keyed with ``keys.sealing`` if there is one."""
    linked = with_chain(
        record, seq=head.seq + 1, prev_hash=head.hash, digest="", key_id=keys.sealing_id
    )
    hashed = digest(linked, keys)
    assert hashed is not None  # the sealing key is always one of the verifying keys
    return replace(linked, hash=hashed)


def seal_all(
    records: Iterable[AuditRecord], head: ChainHead, keys: ChainKeys = UNKEYED
) -> list[AuditRecord]:
    """Chain records in order onto ``head``.

    Sinks call this again when another process moved the head since the
    writer sealed the batch; ids and contents stay, seq and hashes follow.
    """
    sealed: list[AuditRecord] = []
    for record in records:
        chained = seal(record, head, keys)
        head = ChainHead(chained.seq, chained.hash)
        sealed.append(chained)
    return sealed


def reseal(
    records: Sequence[AuditRecord], head: ChainHead, keys: ChainKeys = UNKEYED
) -> list[AuditRecord]:
    """``seal_all`` for a sink re-chaining a batch onto a head another process
    moved: only records whose own hash verifies. Re-sealing vouches for a record
    under the chain key; one that does not verify (edited or forged on its way,
    in the spill file) would come out of it looking genuine. ``ValueError``."""
    for record in records:
        if not sound(record, keys):
            raise ValueError(
                f"refusing to re-seal record {record.seq} (request {record.request_id}):"
                " its hash does not match its contents"
            )
    return seal_all(records, head, keys)


def check_head(record: AuditRecord, keys: ChainKeys, where: str) -> None:
    """Refuse to chain onto a last record whose own hash does not verify (an edit
    that kept the hash): ``ValueError`` naming it, as for a last line that does
    not parse, so the sink does not open and records spill."""
    if sound(record, keys):
        return
    if digest(record, keys) is None:
        why = (
            f"is sealed with chain key {record.key_id}, which this gateway does not hold"
            " (AUDIT_CHAIN_KEY, AUDIT_CHAIN_PREVIOUS_KEYS)"
        )
    else:
        why = "does not match its hash (edited?)"
    raise ValueError(f"{where}: its last record, {record.seq}, {why}; not chaining onto it")


def cut_below(head: ChainHead, high: ChainHead, at_high: str | None, sink: str) -> None:
    """Refuse to chain onto ``head`` when the tail this process stored or saw stored
    is gone: ``head`` below ``high`` (a record cut), or ``at_high``, the hash of the
    record stored at ``high.seq`` now, not ``high.hash`` (cut and written again:
    another worker that never saw the cut record chained a new one onto the cut,
    reusing its seq). Only growth is another worker's doing, and a record sealed
    onto a cut tail would make the cut verify. ``at_high`` None (no record found at
    that seq, below the head: its old file moved away, say; or the record there does
    not match its own hash: an edit, not a rewrite, which seals sound records) is no
    sign of a cut tail; a verify reports the hole or the edit."""
    if head.seq < high.seq:
        raise AuditChainBrokenError(
            f"the {sink} audit log ends at record {head.seq}, but this process stored or saw"
            f" record {high.seq}: records {head.seq + 1}..{high.seq} were cut from its tail;"
            " not chaining onto the cut (restore them, or restart the gateway, all its workers,"
            " to accept the cut)"
        )
    if high.seq and at_high is not None and at_high != high.hash:
        raise rewritten(high, sink)


def rewritten(high: ChainHead, sink: str) -> AuditChainBrokenError:
    """The error for a tail cut from ``high`` and written again by another worker:
    restoring the cut records would now drop that worker's, so only a restart helps."""
    return AuditChainBrokenError(
        f"the {sink} audit log's record {high.seq} is not the one this process stored or"
        f" saw: the tail from record {high.seq} was cut and written again (another worker"
        " chained onto the cut); not chaining onto it (keep the incident record, then restart"
        " the gateway, all its workers, to accept the cut)"
    )


def replaced_at(high: ChainHead, record: AuditRecord, keys: ChainKeys = UNKEYED) -> str:
    """The verify problem when the record stored at ``high.seq`` is another sound
    record than the one this process stored or saw there; "" when it is that one,
    another seq, or does not match its own hash (an edit in place: the verifier
    reports it as ``edited``, and a restore of the record is no longer a problem)."""
    if not high.seq or record.seq != high.seq or record.hash == high.hash:
        return ""
    if not sound(record, keys):
        return ""
    return (
        f"record {high.seq} replaced: not the record this process stored or saw (the tail was cut"
        " and written again)"
    )


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


def chained_onto(
    records: Sequence[AuditRecord], head: ChainHead, keys: ChainKeys = UNKEYED
) -> list[AuditRecord]:
    """``records`` as they are when the whole batch links onto ``head``, else
    re-sealed onto it (``reseal``: ``ValueError`` for a record that does not verify)."""
    return list(records) if links_onto(records, head) else reseal(records, head, keys)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int = 0
    problem: str = ""
    unkeyed: int = 0  # of ``checked``, records with a plain SHA-256 hash (no chain key)


class ChainVerifier:
    """Feed records in storage order; the first break sticks.

    ``start_seq`` is the sequence number the first record must have;
    ``anchor`` the hash it must link to (the previous record's, or the
    genesis hash for seq 1; ``None`` when unknown, e.g. evicted from memory).
    ``keys``: the chain keys that verify keyed records; ``keyed_before``: the
    record before ``start_seq`` was keyed, so an unkeyed one after it is a break.
    """

    def __init__(
        self,
        *,
        start_seq: int = 1,
        anchor: str | None = GENESIS_HASH,
        keys: ChainKeys = UNKEYED,
        keyed_before: bool = False,
    ) -> None:
        self._expected = start_seq
        self._prev_hash = anchor
        self._keys = keys
        self._checked = 0
        self._unkeyed = 0
        self._keyed_seen = keyed_before  # the record before the range was keyed
        self._bad: VerifyResult | None = None

    @property
    def failed(self) -> bool:
        return self._bad is not None

    @property
    def next_seq(self) -> int:
        """The seq the next record must have."""
        return self._expected

    def feed(self, record: AuditRecord) -> bool:
        """Check one record; ``False`` once the chain is broken."""
        if self._bad is not None:
            return False
        problem = self._problem(record)
        if problem:
            self._bad = VerifyResult(
                False, self._checked, self._expected, problem, unkeyed=self._unkeyed
            )
            return False
        self._checked += 1
        self._unkeyed += not record.key_id
        self._keyed_seen = self._keyed_seen or bool(record.key_id)
        self._expected = record.seq + 1
        self._prev_hash = record.hash
        return True

    def broken(self, seq: int, problem: str) -> VerifyResult:
        """A break found outside ``feed`` (a record that cannot be read): the
        verdict, counting what was checked before it."""
        if self._bad is None:
            self._bad = VerifyResult(False, self._checked, seq, problem, unkeyed=self._unkeyed)
        return self._bad

    def _problem(self, record: AuditRecord) -> str:
        expected = self._expected
        if record.seq > expected:
            return f"record {expected} missing: found {record.seq} (deleted or moved)"
        if record.seq < expected:
            return f"record {record.seq} found where {expected} belongs (reordered or inserted)"
        if problem := self._key_problem(record):
            return problem
        if not sound(record, self._keys):
            return f"record {expected} edited: its hash does not match its contents"
        if self._prev_hash is not None and record.prev_hash != self._prev_hash:
            return f"record {expected} does not link to the previous one (inserted or replaced)"
        return ""

    def _key_problem(self, record: AuditRecord) -> str:
        if record.key_id and record.key_id not in self._keys.verifying:
            return (
                f"record {record.seq} is sealed with chain key {record.key_id}, which this "
                "gateway does not hold (AUDIT_CHAIN_KEY, AUDIT_CHAIN_PREVIOUS_KEYS)"
            )
        if not record.key_id and self._keyed_seen:
            return (
                f"record {record.seq} has no chain key but follows keyed records "
                "(rewritten without the key)"
            )
        return ""

    def result(self, *, expected_last_seq: int | None = None) -> VerifyResult:
        """The verdict; ``expected_last_seq`` also catches a truncated tail."""
        if self._bad is not None:
            return self._bad
        if expected_last_seq is not None and self._expected <= expected_last_seq:
            missing = self._expected
            return VerifyResult(
                False,
                self._checked,
                missing,
                f"record {missing} missing (tail)",
                unkeyed=self._unkeyed,
            )
        return VerifyResult(True, self._checked, unkeyed=self._unkeyed)


def verify(
    records: Iterable[AuditRecord],
    *,
    start_seq: int = 1,
    anchor: str | None = GENESIS_HASH,
    keys: ChainKeys = UNKEYED,
) -> VerifyResult:
    verifier = ChainVerifier(start_seq=start_seq, anchor=anchor, keys=keys)
    for record in records:
        if not verifier.feed(record):
            break
    return verifier.result()
