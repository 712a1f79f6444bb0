"""The audit sink's migrations table beside other tools' ``schema_migrations``.

NovaOS kept its applied migrations in ``schema_migrations``, the name Rails,
golang-migrate and dbmate use: on a database shared with one of them NovaOS
read the other tool's versions as its own. It now keeps them in
``novaos_schema_migrations``, adopts its own old table once, and leaves any
other tool's as it found it.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import psycopg
import pytest

from novaos.audit.chain import ChainHead, seal_all, verify
from novaos.audit.reader import AuditReader
from novaos.audit.record import build_record
from novaos.audit.sinks.pg_schema import MIGRATIONS, migrate
from novaos.audit.sinks.postgres import PostgresAuditSink
from tests.fixtures.audit_data import POLICY, summary
from tests.integration.audit.conftest import insert_records, table_records

# Other tools' tables, as they create them, with a few of their rows.
_FOREIGN = {
    "golang-migrate": (
        "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY,"
        " dirty boolean NOT NULL);"
        " INSERT INTO schema_migrations VALUES (2, false)"
    ),
    "dbmate": (
        "CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);"
        " INSERT INTO schema_migrations VALUES ('20240101120000'), ('1'), ('2')"
    ),
    # Our very columns, but versions and names that are not our migrations.
    "same-shape": (
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now());"
        " INSERT INTO schema_migrations (version, name) VALUES (1, 'create users'),"
        " (2, 'audit records table')"
    ),
}


def _dump(dsn: str, table: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """A table's columns (name, type) and its rows, to show it was not touched."""
    with psycopg.connect(dsn) as conn:
        columns = conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped"
            " ORDER BY attnum",
            (table,),
        ).fetchall()
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    return columns, rows


def _versions(dsn: str) -> list[tuple[int, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT version, name FROM novaos_schema_migrations ORDER BY version"
        ).fetchall()
    return [(int(v), str(n)) for v, n in rows]


def _migrate_as_before_the_rename(dsn: str) -> None:
    """What releases before the rename did at start (``schema_migrations``)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name, statements in MIGRATIONS:
            conn.execute(statements.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at)"
                " VALUES (%s, %s, '2025-01-02T03:04:05Z')",
                (version, name),
            )


async def _open_and_write(dsn: str, count: int) -> None:
    sink = PostgresAuditSink(dsn, pool_size=1)
    try:
        head = await sink.open()
        drafts = [
            build_record(summary(100 + i), POLICY, ended_unix=1_700_000_100 + i)
            for i in range(count)
        ]
        assert len(await sink.append(seal_all(drafts, head))) == count
        assert (await AuditReader(sink).verify()).ok
    finally:
        await sink.aclose()


async def test_a_fresh_database_gets_its_own_migrations_table(postgres_dsn: str) -> None:
    await _open_and_write(postgres_dsn, 2)
    assert _versions(postgres_dsn) == [(v, n) for v, n, _ in MIGRATIONS]
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)


@pytest.mark.parametrize("tool", sorted(_FOREIGN))
async def test_another_tools_schema_migrations_is_left_alone(postgres_dsn: str, tool: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute(_FOREIGN[tool].encode())
    before = _dump(postgres_dsn, "schema_migrations")
    await _open_and_write(postgres_dsn, 3)
    await _open_and_write(postgres_dsn, 1)  # and again: still nothing re-applied
    assert _dump(postgres_dsn, "schema_migrations") == before
    assert _versions(postgres_dsn) == [(v, n) for v, n, _ in MIGRATIONS]
    stored = table_records(postgres_dsn)
    assert len(stored) == 4 and verify(stored).ok


async def test_a_database_migrated_before_the_rename_carries_over_once(postgres_dsn: str) -> None:
    _migrate_as_before_the_rename(postgres_dsn)
    drafts = [build_record(summary(i), POLICY, ended_unix=1_700_000_000 + i) for i in range(5)]
    earlier = seal_all(drafts, ChainHead())
    insert_records(postgres_dsn, earlier)

    # Several workers start together: the first adopts the old table, the others
    # find it adopted; none applies a migration again (it would fail: the audit
    # table exists).
    sinks = [PostgresAuditSink(postgres_dsn, pool_size=1) for _ in range(3)]
    heads = await asyncio.gather(*(sink.open() for sink in sinks))
    for sink in sinks:
        await sink.aclose()
    assert {head.seq for head in heads} == {5}

    with psycopg.connect(postgres_dsn) as conn:
        rows = conn.execute(
            "SELECT version, name, applied_at FROM novaos_schema_migrations ORDER BY version"
        ).fetchall()
        at = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
        assert rows == [(v, n, at) for v, n, _ in MIGRATIONS]  # the old rows, times and all
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)
        index = conn.execute("SELECT to_regclass('novaos_schema_migrations_pkey')").fetchone()
        assert index is not None and index[0] is not None
        # The name is free for another tool now, its primary key's index included.
        conn.execute("CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean)")

    async with await psycopg.AsyncConnection.connect(postgres_dsn) as conn:
        assert await migrate(conn) == []
    assert table_records(postgres_dsn) == earlier
    await _open_and_write(postgres_dsn, 2)  # the chain goes on from the old records
    stored = table_records(postgres_dsn)
    assert stored[:5] == earlier and len(stored) == 7 and verify(stored).ok
