"""Each audit sink on real storage, plus a way to rewrite what it stores.

``StoredSink.rewrite(transform)`` replaces the stored records (in storage
order) with ``transform(records)``: how the tamper tests edit, delete,
reorder or insert behind the sink's back. For PostgreSQL that takes a
superuser turning the append-only triggers off, which is the point.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from novaos.audit.record import AuditRecord, decode
from novaos.audit.sink import AuditSink
from novaos.audit.sinks.file import FileAuditSink
from novaos.audit.sinks.memory import MemoryAuditSink
from novaos.audit.sinks.postgres import PostgresAuditSink

Transform = Callable[[list[AuditRecord]], list[AuditRecord]]


@dataclass
class StoredSink:
    kind: str
    sink: AuditSink
    location: str  # directory or DSN

    async def stored(self) -> list[AuditRecord]:
        return await self.sink.range(0, 2**62, limit=1_000_000)

    async def rewrite(self, transform: Transform) -> None:
        records = transform(await self.stored())
        if isinstance(self.sink, MemoryAuditSink):
            self.sink.records.clear()
            self.sink.records.extend(records)
        elif isinstance(self.sink, FileAuditSink):
            _rewrite_files(Path(self.location), records)
        else:
            _rewrite_table(self.location, records)


def _rewrite_files(directory: Path, records: list[AuditRecord]) -> None:
    files = sorted(directory.glob("audit-*.log"))
    for path in files[1:]:
        path.unlink()
    files[0].write_bytes(b"".join(r.line() for r in records))


def _rewrite_table(dsn: str, records: list[AuditRecord]) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET session_replication_role = replica")  # triggers off: superuser only
        conn.execute("DELETE FROM audit_records")
        for position, record in enumerate(records, start=1):
            conn.execute(
                "INSERT INTO audit_records (seq, id, time, request_id, user_ref, outcome,"
                " stance, gate_decisions, prev_hash, hash, record)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    position, record.id, record.time, record.request_id, record.user,
                    record.outcome, record.stance, sorted(record.gate_decisions),
                    record.prev_hash, record.hash, record.line().decode().rstrip("\n"),
                ),
            )  # fmt: skip


def insert_records(dsn: str, records: list[AuditRecord]) -> None:
    """Store ``records`` as they are, into an empty table (as an older release wrote them)."""
    _rewrite_table(dsn, records)


def table_records(dsn: str) -> list[AuditRecord]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT record FROM audit_records ORDER BY seq").fetchall()
    return [decode(row[0]) for row in rows]


async def make_sink(kind: str, tmp_path: Path, dsn: str, **kw: int) -> StoredSink:
    sink: AuditSink
    if kind == "memory":
        sink, location = MemoryAuditSink(capacity=100_000), ""
    elif kind == "file":
        location = str(tmp_path / "audit")
        sink = FileAuditSink(Path(location), max_bytes=kw.get("max_bytes", 1 << 20))
    else:
        sink, location = PostgresAuditSink(dsn, pool_size=2, timeout_s=2.0), dsn
    return StoredSink(kind, sink, location)


@pytest.fixture(params=["memory", "file", "database"])
async def stored_sink(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoredSink]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "database" else ""
    stored = await make_sink(request.param, tmp_path, dsn)
    try:
        yield stored
    finally:
        await stored.sink.aclose()
