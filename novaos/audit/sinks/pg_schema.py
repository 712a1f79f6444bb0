"""Schema migrations for the PostgreSQL audit sink, applied at start.

Each migration runs once, in order, inside a transaction holding an advisory
lock, and is recorded in ``schema_migrations``, so several workers starting
together apply each step exactly once. Add new steps at the end; never edit
a released one.
"""

from __future__ import annotations

from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow

MIGRATION_LOCK_KEY = 0x6E6F7661_0001  # "nova" + 1: serialises migrations
APPEND_LOCK_KEY = 0x6E6F7661_0002  # serialises appends so the chain stays one line

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
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT version FROM schema_migrations")
        done = {int(row[0]) for row in await cur.fetchall()}
        for version, name, statements in MIGRATIONS:
            if version in done:
                continue
            await conn.execute(sql.SQL(statements))
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name)
            )
            applied_now.append(version)
    return applied_now
