"""What a spill file must be before its records are stored: the writer's own work.

A spill holds records this gateway sealed while the sink was down, one chain
in the order they were sealed. Replaying them stores them, and a sink that
finds its head moved re-seals them under the chain key: whatever is stored
then verifies. So before a record is stored it must still be what the writer
sealed: its own hash verifies (under a key this gateway holds; with a sealing
key, keyed), and it follows the record before it in the spill (seq + 1, its
hash as ``prev_hash``), so a line deleted, moved or inserted shows as a gap.

The one break a writer makes itself is a chain started from zero (seq 1, the
genesis hash): a release before this one restarted with the sink down did so.

What the check cannot see: lines cut from the spill's end, or its start (the
records before it were stored, possibly re-sealed). Keep the spill directory
writable by the gateway only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from novaos.audit.chain import GENESIS_HASH, ChainKeys, sound
from novaos.audit.record import AuditRecord, decode


@dataclass(frozen=True, slots=True)
class SpillCheck:
    records: list[AuditRecord] = field(default_factory=list)  # the sound prefix: store these
    problem: str = ""  # why the line after them is not stored ("": every line is sound)
    lines: int = 0  # lines from the first bad one to the end (not stored)


def check_spill(lines: Iterable[bytes], keys: ChainKeys) -> SpillCheck:
    """The spill's sound prefix, and what is wrong with the line after it."""
    good: list[AuditRecord] = []
    raw = list(lines)
    for number, line in enumerate(raw, 1):
        try:
            record = decode(line)
        except ValueError as exc:
            problem = f"line {number} does not parse: {exc}"
        else:
            problem = _problem(record, good[-1] if good else None, keys)
            if problem:
                problem = f"line {number}: {problem}"
        if problem:
            return SpillCheck(good, problem, len(raw) - len(good))
        good.append(record)
    return SpillCheck(good)


def _problem(record: AuditRecord, previous: AuditRecord | None, keys: ChainKeys) -> str:
    name = f"record {record.seq} (request {record.request_id})"
    if keys.sealing is not None and not record.key_id:
        return (
            f"{name} has no chain key, but this gateway seals with AUDIT_CHAIN_KEY "
            "(forged without the key, or spilled before the key was set)"
        )
    if previous is not None and previous.key_id and not record.key_id:
        return f"{name} has no chain key but follows keyed records (rewritten without the key)"
    if record.key_id and record.key_id not in keys.verifying:
        return (
            f"{name} is sealed with chain key {record.key_id}, which this gateway does not "
            "hold (AUDIT_CHAIN_KEY, AUDIT_CHAIN_PREVIOUS_KEYS)"
        )
    if not sound(record, keys):
        return f"{name} does not match its hash (edited or forged)"
    if previous is None or _follows(record, previous):
        return ""
    return f"{name} does not follow record {previous.seq} (a line deleted, moved or inserted)"


def _follows(record: AuditRecord, previous: AuditRecord) -> bool:
    if record.seq == previous.seq + 1 and record.prev_hash == previous.hash:
        return True
    return record.seq == 1 and record.prev_hash == GENESIS_HASH
