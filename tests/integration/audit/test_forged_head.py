"""A last record edited with its hash kept: the gateway does not chain onto it
(it started ready and sealed new records onto the forgery)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from novaos.audit.chain import ChainKeys
from novaos.audit.sink import AuditSink
from novaos.audit.sinks.file import FileAuditSink
from novaos.audit.sinks.postgres import PostgresAuditSink
from novaos.audit.writer import AuditWriter
from tests.fixtures.audit_data import POLICY, chain, summary
from tests.fixtures.common import await_until, holds

KEYS = ChainKeys.of(b"forged-head-key-0123456789abcdef01")


def _forge_last_line(directory: Path) -> bytes:
    path = sorted(directory.glob("audit-*.log"))[-1]
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    assert b'"outcome":"hard_veto"' in lines[-1]
    lines[-1] = lines[-1].replace(b'"outcome":"hard_veto"', b'"outcome":"completed"')
    path.write_bytes(b"".join(lines))
    return b"".join(lines)


def _forge_last_row(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET session_replication_role = replica")  # a superuser, triggers off
        conn.execute(
            "UPDATE audit_records SET outcome = 'completed',"
            ' record = replace(record, \'"outcome":"hard_veto"\', \'"outcome":"completed"\')'
            " WHERE seq = (SELECT max(seq) FROM audit_records)"
        )


@pytest.mark.parametrize("kind", ["file", "database"])
async def test_a_forged_last_record_keeps_the_sink_from_opening(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    sink: AuditSink
    records = chain(6, keys=KEYS)  # the last one, seq 6, is a hard veto
    if kind == "file":
        directory = tmp_path / "audit"
        sink = FileAuditSink(directory, keys=KEYS)
        await sink.open()
        await sink.append(records)
        forged = _forge_last_line(directory)
        sink = FileAuditSink(directory, keys=KEYS)
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        sink = PostgresAuditSink(dsn, pool_size=2, timeout_s=2.0, keys=KEYS)
        await sink.open()
        await sink.append(records)
        await sink.aclose()
        _forge_last_row(dsn)
        sink = PostgresAuditSink(dsn, pool_size=2, timeout_s=2.0, keys=KEYS)
    with pytest.raises(ValueError, match="last record, 6, does not match its hash"):
        await sink.open()

    writer = AuditWriter(
        sink, POLICY, spill_path=tmp_path / "spill.jsonl", keys=KEYS, max_backoff_s=0.05
    )
    await writer.start()
    assert writer.status().status == "down"  # not ready
    await writer.record(summary(50))
    await await_until(lambda: holds(writer.status().spilled == 1), what="the record spilled")
    assert [r.seq for r in await sink.range(0, 100)] == [1, 2, 3, 4, 5, 6]  # nothing chained
    if kind == "file":
        assert sorted(directory.glob("audit-*.log"))[-1].read_bytes() == forged
    await writer.aclose()
