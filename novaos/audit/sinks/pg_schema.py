"""Schema migrations for the PostgreSQL audit sink, applied at start.

Each migration runs once, in order, inside a transaction holding an advisory
lock, and is recorded in ``novaos_schema_migrations``, so several workers
starting together apply each step exactly once. Add new steps at the end;
never edit a released one.

The table has a name of its own: ``schema_migrations`` is what Rails,
golang-migrate, dbmate and others call theirs, and reading another tool's
versions as ours would skip our migrations. Releases before the rename kept
ours under that name; the first start of this one renames such a table (and
its primary key index) in the migrating transaction, so its rows carry over
exactly once and nothing is applied again. A ``schema_migrations`` that is
not ours is never touched.
"""

from __future__ import annotations

from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow

MIGRATION_LOCK_KEY = 0x6E6F7661_0001  # "nova" + 1: serialises migrations
APPEND_LOCK_KEY = 0x6E6F7661_0002  # serialises appends so the chain stays one line

MIGRATIONS_TABLE = "novaos_schema_migrations"
_LEGACY_TABLE = "schema_migrations"  # ours before the rename; other tools' name too
_COLUMNS = {"version": "integer", "name": "text", "applied_at": "timestamp with time zone"}

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "audit records table",
        """
        CREATE TABLE audit_records (
            seq            bigint      PRIMARY KEY,
            id             text        NOT NULL UNIQUE,
            time           timestamptz NOT NULL,
            request_id     text        NOT NULL,
            user_ref       text        NOT NULL,
            outcome        text        NOT NULL,
            stance         text        NOT NULL,
            gate_decisions text[]      NOT NULL,
            prev_hash      text        NOT NULL,
            hash           text        NOT NULL,
            record         text        NOT NULL
        );
        CREATE INDEX audit_records_user_seq ON audit_records (user_ref, seq);
        CREATE INDEX audit_records_outcome_seq ON audit_records (outcome, seq);
        CREATE INDEX audit_records_stance_seq ON audit_records (stance, seq);
        CREATE INDEX audit_records_time ON audit_records (time);
        CREATE INDEX audit_records_request_id ON audit_records (request_id);
        CREATE INDEX audit_records_gates ON audit_records USING gin (gate_decisions);
        """,
    ),
    (
        2,
        "append-only: refuse UPDATE, DELETE and TRUNCATE",
        """
        CREATE FUNCTION audit_records_refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_records is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$;
        CREATE TRIGGER audit_records_no_change
            BEFORE UPDATE OR DELETE ON audit_records
            FOR EACH ROW EXECUTE FUNCTION audit_records_refuse_change();
        CREATE TRIGGER audit_records_no_truncate
            BEFORE TRUNCATE ON audit_records
            FOR EACH STATEMENT EXECUTE FUNCTION audit_records_refuse_change();
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_records FROM PUBLIC;
        """,
    ),
)


async def migrate(conn: AsyncConnection[TupleRow]) -> list[int]:
    """Apply pending migrations; returns the versions applied now."""
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        if not await _exists(conn, MIGRATIONS_TABLE) and await _legacy_is_ours(conn):
            await _adopt_legacy(conn)
        await conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(MIGRATIONS_TABLE))
        )
        cur = await conn.execute(
            sql.SQL("SELECT version FROM {}").format(sql.Identifier(MIGRATIONS_TABLE))
        )
        done = {int(row[0]) for row in await cur.fetchall()}
        for version, name, statements in MIGRATIONS:
            if version in done:
                continue
            await conn.execute(sql.SQL(statements))
            await conn.execute(
                sql.SQL("INSERT INTO {} (version, name) VALUES (%s, %s)").format(
                    sql.Identifier(MIGRATIONS_TABLE)
                ),
                (version, name),
            )
            applied_now.append(version)
    return applied_now


async def _exists(conn: AsyncConnection[TupleRow], table: str) -> bool:
    """Whether ``table`` resolves on the search path, as an unqualified name would."""
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def _legacy_is_ours(conn: AsyncConnection[TupleRow]) -> bool:
    """Whether ``schema_migrations`` is the table an earlier release kept: exactly
    our columns, at least one row, every row one of our migrations by version
    and name, and the audit table that the first of them creates. Anything
    else is another tool's (or nobody's) and stays as it is."""
    if not await _exists(conn, _LEGACY_TABLE) or not await _exists(conn, "audit_records"):
        return False
    cur = await conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
        (_LEGACY_TABLE,),
    )
    if {str(name): str(kind) for name, kind in await cur.fetchall()} != _COLUMNS:
        return False
    cur = await conn.execute(
        sql.SQL("SELECT version, name FROM {}").format(sql.Identifier(_LEGACY_TABLE))
    )
    rows = {(int(version), str(name)) for version, name in await cur.fetchall()}
    return bool(rows) and rows <= {(version, name) for version, name, _ in MIGRATIONS}


async def _adopt_legacy(conn: AsyncConnection[TupleRow]) -> None:
    """Rename our old ``schema_migrations`` (rows, times and all) and its primary
    key index, which would otherwise keep the name another tool's table needs
    for its own (``schema_migrations_pkey``)."""
    cur = await conn.execute(
        "SELECT conindid::regclass::text FROM pg_constraint"
        " WHERE conrelid = to_regclass(%s) AND contype = 'p'",
        (_LEGACY_TABLE,),
    )
    pkey = await cur.fetchone()
    await conn.execute(
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(
            sql.Identifier(_LEGACY_TABLE), sql.Identifier(MIGRATIONS_TABLE)
        )
    )
    if pkey is not None:
        await conn.execute(
            sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.SQL(str(pkey[0])), sql.Identifier(f"{MIGRATIONS_TABLE}_pkey")
            )
        )
