"""A ranged verify (``--from-seq``) checks the range's anchor and keys as a full
verify would: a forged range does not pass because the record before it is gone."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from novaos.audit.chain import ChainHead, ChainKeys, seal_all
from novaos.audit.reader import AuditReader
from novaos.audit.record import AuditRecord
from novaos.audit.sinks.file import FileAuditSink
from tests.fixtures.audit_data import chain

KEYS = ChainKeys.of(b"ranged-verify-key-0123456789abcdef")


def _unkeyed_from(records: list[AuditRecord], index: int) -> list[AuditRecord]:
    """A forger without the key: records from ``index`` on edited and re-hashed
    with plain SHA-256, chained onto the record before them."""
    before = records[index - 1]
    forged = [dataclasses.replace(r, outcome="completed", key_id="") for r in records[index:]]
    return records[:index] + seal_all(forged, ChainHead(before.seq, before.hash))


def _store(directory: Path, records: list[AuditRecord]) -> FileAuditSink:
    directory.mkdir()
    (directory / "audit-000000000001.log").write_bytes(b"".join(r.line() for r in records))
    return FileAuditSink(directory, keys=KEYS)


def _forge_13_on_after_deleting_12(records: list[AuditRecord]) -> list[AuditRecord]:
    forged = _unkeyed_from(records, 12)  # 13.. link to the real 12, then 12 goes
    return forged[:11] + forged[12:]


def _forge_12_on(records: list[AuditRecord]) -> list[AuditRecord]:
    return _unkeyed_from(records, 11)


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (_forge_13_on_after_deleting_12, "record 12 missing (before the range"),
        (_forge_12_on, "record 12 (before the range, which it links to) has no chain key but"
                       " follows keyed record 1"),
    ],
)  # fmt: skip
async def test_a_forged_unkeyed_range_fails_a_ranged_verify(
    tmp_path: Path, tamper: Callable[[list[AuditRecord]], list[AuditRecord]], problem: str
) -> None:
    # Found by a tester: with record 12 deleted, `verify --from-seq 13 --to-seq 16`
    # over records rewritten without the key answered ok: the missing anchor was
    # passed over, and with it the "follows keyed records" rule.
    sink = _store(tmp_path / "audit", tamper(chain(20, keys=KEYS)))
    await sink.open()
    reader = AuditReader(sink, keys=KEYS)
    for to_seq in (16, 0):
        result = await reader.verify(13, to_seq)
        assert (result.ok, result.first_bad_seq) == (False, 12), result
        assert result.problem.startswith(problem), result.problem
    assert not (await reader.verify()).ok
    await sink.aclose()


async def test_a_log_keyed_after_an_unkeyed_start_verifies_in_ranges(tmp_path: Path) -> None:
    # Records written before AUDIT_CHAIN_KEY was set stay unkeyed and genuine.
    unkeyed = chain(10)
    keyed = chain(10, keys=KEYS, first=10, start=ChainHead(10, unkeyed[-1].hash))
    sink = _store(tmp_path / "audit", unkeyed + keyed)
    await sink.open()
    reader = AuditReader(sink, keys=KEYS)
    for from_seq, to_seq, checked in ((5, 8, 4), (11, 0, 10), (10, 12, 3), (1, 0, 20)):
        result = await reader.verify(from_seq, to_seq)
        assert (result.ok, result.checked) == (True, checked), (from_seq, result)
    past = await reader.verify(25, 0)  # nothing in range: ok, nothing checked
    assert (past.ok, past.checked) == (True, 0)
    await sink.aclose()
