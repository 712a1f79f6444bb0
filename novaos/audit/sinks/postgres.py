"""PostgreSQL audit sink: psycopg 3 async pool, migrations at start, append-only.

The table keeps each record's canonical JSON as text (what the hash covers,
byte for byte) beside the columns the list filters use. A trigger refuses
UPDATE, DELETE and TRUNCATE, so changing history takes disabling triggers (a
superuser, or the table's owner: see docs/operations.md), and the chain shows
it. Appends take a transaction-level advisory lock and re-chain onto the stored
head, so worker processes share one chain; ids already stored (a batch whose
commit ack was lost) are skipped.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from psycopg import AsyncConnection, OperationalError, sql
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from novaos.audit.chain import (
    UNKEYED,
    ChainHead,
    ChainKeys,
    chained_onto,
    check_head,
    cut_below,
    sound,
)
from novaos.audit.record import AuditRecord, decode_stored, parse_time
from novaos.audit.sink import MAX_PAGE_SIZE, AuditPage, AuditQuery, encode_page_token
from novaos.audit.sinks.pg_schema import APPEND_LOCK_KEY, migrate
from novaos.errors import AuditSinkUnavailableError

_COLUMNS_EDITED = "columns-edited"  # never a sha256 hex digest
_COLUMNS = (
    "seq, id, time, request_id, user_ref, outcome, stance, gate_decisions, prev_hash, hash, record"
)
_COLUMN_NAMES = _COLUMNS.split(", ")[:-1]  # without the record JSON
_HASH = _COLUMN_NAMES.index("hash")

# A listing passing over rows (see ``list``) reads on in batches of this many rows,
# and at most this many rows in one call.
_LIST_BATCH = 500
_LIST_SCAN_ROWS = 10 * MAX_PAGE_SIZE
_LIST_NAMED = 5  # seqs its warning names

_CLOSE_TIMEOUT_S = 0.5
_RECANCEL_S = 0.05

_log = logging.getLogger("novaos.audit")
_T = TypeVar("_T")


class PostgresAuditSink:
    name = "database"

    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int = 4,
        timeout_s: float = 5.0,
        retry_max_backoff_s: float = 5.0,
        keys: ChainKeys = UNKEYED,
    ) -> None:
        self._keys = keys  # re-chaining onto another process's head seals anew
        # A short pool timeout: when the database is down, appends must fail
        # fast so the writer spills instead of holding records in memory.
        self._timeout_s = timeout_s
        self._pool: AsyncConnectionPool[AsyncConnection[TupleRow]] = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=timeout_s,
            # The pool reconnects with a doubling delay and no cap (1, 2, 4 ... 64 s)
            # until reconnect_timeout (300 s by default): after a long outage a worker
            # found the database back only minutes later. Capped here, a reconnect
            # gives up after the writer's longest backoff (at least one caller's
            # wait for a connection, or one waiting when the database returns would
            # go unserved), so no delay in it exceeds about half of that, and the next
            # use of the pool (the writer's next retry, a read) starts a new one.
            reconnect_timeout=max(timeout_s, retry_max_backoff_s),
            check=AsyncConnectionPool.check_connection,
            kwargs={
                "connect_timeout": max(1, int(timeout_s)),
                # A statement waiting on a lock or a slow server fails instead of
                # holding the writer: the batch spills and is replayed later.
                "options": f"-c statement_timeout={int(timeout_s * 1000)} "
                f"-c lock_timeout={int(timeout_s * 1000)}",
            },
        )
        self._opened = False
        self._head = ChainHead()
        self.high = ChainHead()  # see AuditSink: the tail this process knows is stored
        self._accepted = False  # the head passed its checks at open: high follows it

    async def open(self) -> ChainHead:
        if not self._opened:
            await self._pool.open(wait=False)
            self._opened = True
        row = await _promptly(self._migrate_and_read_last())
        if row is None:
            self._accepted = True
            return self._head
        self._head = ChainHead(int(row[0]), str(row[_HASH]))
        # The last row must be a record that verifies before anything is chained
        # onto it (``ValueError``: the sink does not open, records spill).
        try:
            record = _checked(row)
        except ValueError as exc:
            raise ValueError(f"the last audit record, {row[0]}, does not parse: {exc}") from None
        check_head(record, self._keys, "the audit table")
        # Only a head that passed: one refused as edited is not a record this process
        # saw stored (restored from a backup, it must not look like a rewritten tail).
        self._accepted = True
        self.high = self.high if self.high.seq else self._head
        return self._head

    async def _migrate_and_read_last(self) -> TupleRow | None:
        async with self._pool.connection() as conn:
            await migrate(conn)
            cur = await conn.execute(
                sql.SQL("SELECT {} FROM audit_records ORDER BY seq DESC LIMIT 1").format(
                    sql.SQL(_COLUMNS)
                )
            )
            return await cur.fetchone()

    @staticmethod
    async def _read_head(conn: AsyncConnection[TupleRow]) -> ChainHead:
        cur = await conn.execute("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")
        row = await cur.fetchone()
        return ChainHead(int(row[0]), str(row[1])) if row else ChainHead()

    async def append(self, records: Sequence[AuditRecord]) -> builtins.list[AuditRecord]:
        if not records:
            return []
        return await _promptly(self._append(records))

    async def _append(self, records: Sequence[AuditRecord]) -> builtins.list[AuditRecord]:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK_KEY,))
            cur = await conn.execute(
                "SELECT id FROM audit_records WHERE id = ANY(%s)", ([r.id for r in records],)
            )
            stored_ids = {row[0] for row in await cur.fetchall()}
            fresh = [r for r in records if r.id not in stored_ids]
            head = await self._read_head(conn)
            # Rows deleted from the tail, or deleted and written again by a worker
            # that never saw them (their seqs reused).
            cut_below(head, self.high, await self._stored_at_high(conn, head), self.name)
            if head.seq == self.high.seq and head.hash != self.high.hash:
                # The last row, this process's, edited in place (a rewrite raised above):
                # chaining onto it would seal the edit in; its restore would not.
                record = await self._record_at(conn, head.seq)
                if record is None:
                    raise ValueError(
                        f"the audit table: its last record, {head.seq}, does not parse"
                    )
                check_head(record, self._keys, "the audit table")
            self.high = head
            fresh = chained_onto(fresh, head, self._keys)
            async with conn.cursor().copy(f"COPY audit_records ({_COLUMNS}) FROM STDIN") as copy:
                for record in fresh:
                    await copy.write_row(_row(record))
        if fresh:
            self._head = self.high = ChainHead(fresh[-1].seq, fresh[-1].hash)
        return fresh

    async def _stored_at_high(self, conn: AsyncConnection[TupleRow], head: ChainHead) -> str | None:
        """The hash of the row stored at ``high.seq`` now (None: none there, or one
        that does not match its own hash: edited, not written again)."""
        high = self.high
        if not high.seq:
            return high.hash
        if head.seq < high.seq:
            return None
        if head.seq == high.seq:
            digest: str | None = head.hash
        else:
            cur = await conn.execute("SELECT hash FROM audit_records WHERE seq = %s", (high.seq,))
            row = await cur.fetchone()
            digest = str(row[0]) if row else None
        if digest is None or digest == high.hash:
            return digest
        record = await self._record_at(conn, high.seq)  # a rewrite, or an edit in place
        return digest if record is not None and sound(record, self._keys) else None

    @staticmethod
    async def _record_at(conn: AsyncConnection[TupleRow], seq: int) -> AuditRecord | None:
        """The record in the row at ``seq``, checked against its columns (None: no
        such row, or its JSON does not parse)."""
        statement = sql.SQL("SELECT {} FROM audit_records WHERE seq = %s").format(sql.SQL(_COLUMNS))
        cur = await conn.execute(statement, (seq,))
        row = await cur.fetchone()
        try:
            return _checked(row) if row else None
        except ValueError:
            return None

    async def _saw(self, conn: AsyncConnection[TupleRow], head: ChainHead) -> None:
        """Move the mark to ``head``, read now, when the tail it knew is still there
        (or no row is left at its seq: no sign of a cut tail, see ``cut_below``)."""
        if not self._accepted or head.seq <= self.high.seq:
            return
        if await self._stored_at_high(conn, head) in (self.high.hash, None):
            self.high = head

    async def list(self, query: AuditQuery) -> AuditPage:
        """A page of matches. The filter reads the columns, the page holds the
        record JSON, and only the JSON is hashed: a row whose record does not
        match the filter (a column edited by the table's owner with the trigger
        off) is passed over, and so is one whose JSON no longer parses, as the
        file sink passes over such a line; verify reports both by seq, and each
        call logs one warning naming how many it passed over and the first ones.
        Rows passed over do not shorten the page: it is filled from the rows
        after them, up to ``_LIST_SCAN_ROWS`` rows read in one call. Past that the
        page comes short, with a token after the last row read (a tampered table
        must not cost one call a query per row and a warning per row); so only a
        page that ran into that bound, or the last page, is short, and only the
        last one comes without a token."""
        statement = sql.SQL("SELECT {} FROM audit_records WHERE {} ORDER BY seq LIMIT %s")
        found: builtins.list[tuple[int, AuditRecord]] = []
        left_out = _LeftOut()
        after, batch, scanned = query.after_seq, query.limit + 1, 0
        while True:
            where, params = _where(replace(query, after_seq=after))
            rows = await self._fetch(statement.format(sql.SQL(_COLUMNS), where), [*params, batch])
            scanned += len(rows)
            for row in rows:
                if len(found) > query.limit:  # the rest are the next page's
                    break
                if isinstance(listed := _listable(row, query), str):
                    left_out.add(row[0], listed)
                else:
                    found.append((row[0], listed))
            if len(found) > query.limit or len(rows) < batch:
                page = found[: query.limit]
                last = page[-1][0] if len(found) > query.limit else 0
                break
            after = rows[-1][0]  # the row's seq: a record's own may be forged
            if scanned >= _LIST_SCAN_ROWS:
                page, last = found, after  # a short page: the client reads on from here
                break
            batch = max(query.limit + 1, _LIST_BATCH)  # rows are being passed over
        left_out.warn()
        return AuditPage(tuple(r for _, r in page), encode_page_token(last) if last else "")

    async def get(self, record_id: str) -> AuditRecord | None:
        """The record stored with ``record_id``. The lookup reads the ``id`` column,
        which the hash does not cover: a row whose record has another id (or seq)
        than its columns (edited with the trigger off) is not the record asked for:
        None (NOT_FOUND), with a warning; verify reports it by seq."""
        statement = sql.SQL("SELECT {} FROM audit_records WHERE id = %s").format(sql.SQL(_COLUMNS))
        rows = await self._fetch(statement, [record_id])
        if not rows:
            return None
        row = rows[0]
        record = _readable(row[0], row[-1])
        if record is None or (record.id == record_id and record.seq == row[0]):
            return record
        _log.warning(
            "audit: database record %d does not match its columns (%s), which the lookup"
            " by id read: not found: run verify",
            row[0], _edited(record, row),
        )  # fmt: skip
        return None

    async def range(
        self, from_seq: int, to_seq: int, *, limit: int = 1000
    ) -> builtins.list[AuditRecord]:
        """Records in chain order, each checked against the columns stored
        beside it: the hash covers only the record's JSON, so a filter column
        edited to hide a record from List (outcome, user, time...) would
        otherwise pass verification. A record whose columns disagree comes
        back with a hash that cannot match: verification reports it edited.
        A row whose JSON does not parse ends the page before it; first in a
        page, it raises ``ValueError`` naming its seq (verify reports it)."""
        statement = sql.SQL(
            "SELECT {} FROM audit_records WHERE seq BETWEEN %s AND %s ORDER BY seq LIMIT %s"
        ).format(sql.SQL(_COLUMNS))
        rows = await self._fetch(statement, [from_seq, to_seq, limit])
        records: builtins.list[AuditRecord] = []
        for row in rows:
            try:
                records.append(_checked(row))
            except ValueError as exc:
                if records:  # the next call starts at this row, which then names it
                    break
                raise ValueError(f"record {row[0]} does not parse: {exc}") from None
        return records

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection[TupleRow]]:
        """A connection for a read. The database down, unreachable or too slow (no
        connection within the pool timeout, a statement timeout) is an expected
        outage, not a bug: the caller gets ``AuditSinkUnavailableError``
        (UNAVAILABLE, retryable) and the log one line without a traceback."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except OperationalError as exc:  # PoolTimeout, a lost connection, QueryCanceled
            _log.warning("audit: database read failed: %s: %s", type(exc).__name__, exc)
            raise AuditSinkUnavailableError("audit database unavailable; try again later") from exc

    async def _fetch(
        self, query: sql.Composable | str, params: Sequence[Any]
    ) -> builtins.list[TupleRow]:
        return await _promptly(self._fetch_now(query, params))

    async def _fetch_now(
        self, query: sql.Composable | str, params: Sequence[Any]
    ) -> builtins.list[TupleRow]:
        async with self._reading() as conn:
            cur = await conn.execute(query, params)  # type: ignore[arg-type]
            return await cur.fetchall()

    async def head(self) -> ChainHead:
        """The chain's last row, read now: another worker may have appended since
        this one last wrote (verify reads up to here)."""
        self._head = await _promptly(self._head_now())
        return self._head

    async def _head_now(self) -> ChainHead:
        async with self._reading() as conn:
            head = await self._read_head(conn)
            await self._saw(conn, head)
            return head

    async def aclose(self) -> None:
        if self._opened:
            # Not the pool's default 5 s: a worker stuck connecting to a database
            # that hangs would hold the shutdown that long after the records spilled.
            await self._pool.close(timeout=_CLOSE_TIMEOUT_S)
            self._opened = False


async def _promptly(work: Coroutine[Any, Any, _T]) -> _T:
    """``work``, which lets go of its connection at once when cancelled.

    psycopg answers a cancel by asking the server to cancel the query, then waits
    up to 5 s for that and 5 s more for the query to end: against a database that
    does not answer (stopped, partitioned) the audit writer's timeout, or the cut
    of a shutdown, came 10 s late, and a drain outlived its grace. Cancelled
    again, as by a second Ctrl-C, psycopg closes the connection instead (the pool
    drops it): the call ends within milliseconds."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():  # the first cancel may end it; if not, the next one does
            task.cancel()
            await asyncio.wait({task}, timeout=_RECANCEL_S)
        raise


def _readable(seq: int, raw: str) -> AuditRecord | None:
    """The row's record, or None (logged) when its JSON no longer parses."""
    try:
        return _decoded(raw)
    except ValueError as exc:
        _log.warning("audit: database record %d does not parse, skipped (%s): run verify", seq, exc)
        return None


def _listable(row: TupleRow, query: AuditQuery) -> AuditRecord | str:
    """The record a full row (``_COLUMNS``) holds when it matches ``query`` as its
    columns did; else why it is left out."""
    try:
        record = _decoded(row[-1])
    except ValueError as exc:
        return f"record {row[0]} does not parse ({exc})"
    if record.seq == row[0] and query.matches(record):
        return record
    return (
        f"record {row[0]} does not match its columns ({_edited(record, row)}),"
        " which the listing's filter read"
    )


def _edited(record: AuditRecord, row: TupleRow) -> str:
    """The columns of a full row (``_COLUMNS``) that disagree with its record."""
    edited = [
        name
        for name, held, stored in zip(
            _COLUMN_NAMES, _columns_of(record), _columns_of_row(row), strict=True
        )
        if held != stored
    ]
    return ", ".join(edited) or "none differ"


@dataclass(slots=True)
class _LeftOut:
    """Rows one listing passed over: logged once, as a count, the first seqs and
    why the first was left out."""

    count: int = 0
    seqs: builtins.list[int] = field(default_factory=builtins.list)
    first: str = ""

    def add(self, seq: int, why: str) -> None:
        self.count += 1
        self.first = self.first or why
        if len(self.seqs) < _LIST_NAMED:
            self.seqs.append(seq)

    def warn(self) -> None:
        if self.count:
            more = ", …" if self.count > len(self.seqs) else ""
            _log.warning(
                "audit: database listing left out %d record%s (seq %s%s), the first: %s:"
                " run verify",
                self.count, "" if self.count == 1 else "s",
                ", ".join(map(str, self.seqs)), more, self.first,
            )  # fmt: skip


def _checked(row: TupleRow) -> AuditRecord:
    """The record a full row (``_COLUMNS``) holds, with a hash that cannot match when
    a column disagrees with it; ``ValueError`` when its JSON does not parse."""
    record = _decoded(row[-1])
    if _columns_of(record) != _columns_of_row(row):
        record = replace(record, hash=_COLUMNS_EDITED)
    return record


def _decoded(raw: str) -> AuditRecord:
    """The ``record`` column as a record; it must be the text ``_row`` stores (a key
    added with the trigger off is not covered by the hash): ``ValueError``."""
    return decode_stored(raw.encode() + b"\n")


def _row(record: AuditRecord) -> tuple[object, ...]:
    return (
        record.seq, record.id, record.time, record.request_id, record.user, record.outcome,
        record.stance, sorted(record.gate_decisions), record.prev_hash, record.hash,
        record.line().decode().rstrip("\n"),
    )  # fmt: skip


def _columns_of(record: AuditRecord) -> tuple[object, ...]:
    """What the columns must hold for ``record`` (``_row`` without the JSON)."""
    row = _row(record)
    return (row[0], row[1], parse_time(record.time), *row[3:-1])


def _columns_of_row(row: TupleRow) -> tuple[object, ...]:
    seq, record_id, time, request_id, user, outcome, stance, gates, prev, digest, _ = row
    return (seq, record_id, time, request_id, user, outcome, stance, sorted(gates), prev, digest)


def _where(query: AuditQuery) -> tuple[sql.Composable, list[object]]:
    clauses = ["seq > %s"]
    params: list[object] = [query.after_seq]
    for column, value in (("user_ref", query.user), ("outcome", query.outcome),
                          ("stance", query.stance)):  # fmt: skip
        if value:
            clauses.append(f"{column} = %s")
            params.append(value)
    if query.start_time:
        clauses.append("time >= %s::timestamptz")
        params.append(query.start_time)
    if query.end_time:
        clauses.append("time < %s::timestamptz")
        params.append(query.end_time)
    if query.gate_decision:
        clauses.append("gate_decisions @> ARRAY[%s]::text[]")
        params.append(query.gate_decision)
    # Every clause is a constant from this function; values travel as parameters.
    return sql.SQL(" AND ").join(sql.SQL(c) for c in clauses), params
