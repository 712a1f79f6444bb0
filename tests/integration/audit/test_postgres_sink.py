"""PostgreSQL sink: migrations, append-only table, outage without loss, shared chain."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
import pytest

from novaos.audit.chain import UNKEYED, ChainKeys, seal_all, verify
from novaos.audit.reader import AuditReader
from novaos.audit.record import AuditRecord, build_record
from novaos.audit.sink import AuditQuery
from novaos.audit.sinks.pg_schema import migrate
from novaos.audit.sinks.postgres import PostgresAuditSink
from novaos.audit.writer import AuditWriter
from novaos.errors import AuditSinkUnavailableError, NotFoundError
from tests.fixtures.audit_data import POLICY, chain, summary
from tests.fixtures.common import await_until
from tests.fixtures.postgres_server import PostgresServer
from tests.integration.audit.conftest import table_records


async def _true(value: bool) -> bool:
    return value


async def test_migrations_run_once_and_the_table_is_append_only(postgres_dsn: str) -> None:
    sink = PostgresAuditSink(postgres_dsn, pool_size=1)
    await sink.open()
    await sink.open()  # a second start applies nothing new
    async with await psycopg.AsyncConnection.connect(postgres_dsn) as conn:
        assert await migrate(conn) == []
        cur = await conn.execute("SELECT version FROM novaos_schema_migrations ORDER BY version")
        assert [row[0] for row in await cur.fetchall()] == [1, 2]
        cur = await conn.execute("SELECT to_regclass('schema_migrations')")
        assert await cur.fetchone() == (None,)  # a name other tools use: left free
    assert await sink.append([]) == []
    await sink.aclose()

    records = await _write_some(postgres_dsn, 3)
    assert len(records) == 3
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        for statement in (
            "UPDATE audit_records SET outcome = 'completed'",
            "DELETE FROM audit_records WHERE seq = 2",
            "TRUNCATE audit_records",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
    assert len(table_records(postgres_dsn)) == 3


async def _write_some(dsn: str, count: int) -> list[AuditRecord]:
    sink = PostgresAuditSink(dsn, pool_size=1)
    head = await sink.open()
    drafts = [build_record(summary(i), POLICY, ended_unix=1_700_000_000 + i) for i in range(count)]
    stored = await sink.append(seal_all(drafts, head))
    assert await sink.append(stored) == []  # ids already stored are skipped, not duplicated
    await sink.aclose()
    return stored


async def test_outage_of_1000_records_loses_nothing(
    postgres_server: PostgresServer, postgres_dsn: str, tmp_path: Path
) -> None:
    sink = PostgresAuditSink(postgres_dsn, pool_size=2, timeout_s=1.0)
    writer = AuditWriter(
        sink, POLICY, spill_path=tmp_path / "spill.jsonl", batch_size=50, max_backoff_s=0.2
    )
    await writer.start()
    order: list[str] = []

    async def produce(start: int, stop: int) -> None:
        for i in range(start, stop):
            await writer.record(summary(i))
            order.append(f"req-{i:05d}")
            if i % 25 == 0:
                await asyncio.sleep(0.001)  # pace the load so the outage lands mid-flow

    try:
        await produce(0, 300)
        await await_until(lambda: _true(writer.status().written == 300), what="300 stored")
        await asyncio.gather(asyncio.to_thread(postgres_server.stop), produce(300, 500))
        assert not postgres_server.running
        await produce(500, 700)
        await await_until(lambda: _true(writer.status().spilled > 0), what="spilling")
        assert writer.status().status == "spilling"
        await asyncio.gather(asyncio.to_thread(postgres_server.start), produce(700, 1000))
        await await_until(
            lambda: _true(writer.status().written == 1000 and writer.status().spilled == 0),
            timeout_s=60,
            what="replay after restart",
        )
        assert writer.status().status == "ok"
    finally:
        await writer.aclose()
        if not postgres_server.running:
            postgres_server.start()
    stored = table_records(postgres_dsn)
    assert [r.request_id for r in stored] == order
    assert [r.seq for r in stored] == list(range(1, 1001))
    assert verify(stored).ok


async def test_after_a_long_outage_the_spill_is_replayed_soon_after_the_database_returns(
    postgres_server: PostgresServer,
    postgres_dsn: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The pool's own reconnect delay doubled without a cap (1, 2, 4 ... 64 s): after a
    # long outage a worker went on spilling and failing reads for minutes after the
    # database was back. Its reconnects now give up after the writer's backoff (at
    # least the pool timeout, 1 s here) and the writer's next retry starts another.
    sink = PostgresAuditSink(postgres_dsn, pool_size=2, timeout_s=1.0, retry_max_backoff_s=0.2)
    writer = AuditWriter(sink, POLICY, spill_path=tmp_path / "spill.jsonl", max_backoff_s=0.2)
    await writer.start()
    caplog.set_level(logging.WARNING, logger="psycopg.pool")

    async def failed_connects(at_least: int) -> bool:
        return sum("error connecting" in r.getMessage() for r in caplog.records) >= at_least

    try:
        await writer.record(summary(0))
        await await_until(lambda: _true(writer.status().written == 1), what="stored")
        await asyncio.to_thread(postgres_server.stop)
        await writer.record(summary(1))
        await await_until(lambda: _true(writer.status().spilled == 1), what="spilled")
        # Ten failed connects. Uncapped, the pool's two reconnect loops (its minimum
        # connection, and one grown for a waiting caller) each try 0, 1, 3, 7 and
        # 15 s into the outage: the next tries would come 16 s after the tenth.
        await await_until(lambda: failed_connects(10), timeout_s=60, what="10 failed connects")
        await asyncio.to_thread(postgres_server.start)
        await await_until(
            lambda: _true(writer.status().spilled == 0 and writer.status().status == "ok"),
            timeout_s=8.0,  # about 1 s expected; a generous bound well below 16 s
            what="the spill replayed after the database came back",
        )
        assert len((await AuditReader(sink).list(AuditQuery())).records) == 2
    finally:
        await writer.aclose()
        if not postgres_server.running:
            await asyncio.to_thread(postgres_server.start)
    assert [r.request_id for r in table_records(postgres_dsn)] == ["req-00000", "req-00001"]


@pytest.mark.parametrize("keys", [UNKEYED, ChainKeys.of(b"k" * 32)], ids=["plain", "keyed"])
async def test_workers_sharing_the_table_share_one_chain(
    postgres_dsn: str, tmp_path: Path, keys: ChainKeys
) -> None:
    writers = [
        AuditWriter(
            PostgresAuditSink(postgres_dsn, pool_size=1, keys=keys),
            POLICY,
            spill_path=tmp_path / f"spill-{n}.jsonl",
            batch_size=10,
            keys=keys,
        )
        for n in range(2)
    ]
    for writer in writers:
        await writer.start()

    async def produce(writer: AuditWriter, base: int) -> None:
        for i in range(base, base + 100):
            await writer.record(summary(i))
            await asyncio.sleep(0)

    await asyncio.gather(*(produce(w, 1000 * n) for n, w in enumerate(writers)))
    for writer in writers:
        await writer.aclose()
    stored = table_records(postgres_dsn)
    assert len(stored) == 200 and len({r.request_id for r in stored}) == 200
    # Records re-chained onto the other worker's head are sealed with the key too.
    assert {bool(r.key_id) for r in stored} == {keys.keyed}
    assert verify(stored, keys=keys).ok
    sink = PostgresAuditSink(postgres_dsn, pool_size=1, keys=keys)  # opens onto a head it verifies
    await sink.open()
    result = await AuditReader(sink, keys=keys).verify()
    assert (result.ok, result.checked, result.unkeyed) == (True, 200, 0 if keys.keyed else 200)
    await sink.aclose()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("outcome", "'completed'"),
        ("user_ref", "'someone-else'"),
        ("stance", "'lens'"),
        ("time", "time + interval '1 day'"),
        ("gate_decisions", "ARRAY['intent:pass']"),
    ],
)
async def test_a_filter_column_edited_behind_the_hash_fails_verification(
    postgres_dsn: str, column: str, value: str
) -> None:
    # The hash covers the record's JSON; List filters on the columns beside it.
    # A superuser who edits a column (triggers off) to hide a record from a
    # filtered list must not get a clean verification.
    records = await _write_some(postgres_dsn, 4)
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("SET session_replication_role = replica")  # triggers off: superuser only
        conn.execute(f"UPDATE audit_records SET {column} = {value} WHERE seq = 3")
    sink = PostgresAuditSink(postgres_dsn, pool_size=1)
    await sink.open()
    try:
        result = await AuditReader(sink).verify()
    finally:
        await sink.aclose()
    assert not result.ok and result.first_bad_seq == 3, result
    assert records[2].seq == 3


@pytest.mark.parametrize(
    "query", [AuditQuery(outcome="hard_veto"), AuditQuery(gate_decision="shield:stop")]
)
async def test_a_listing_leaves_out_rows_whose_record_does_not_match_the_filter(
    postgres_dsn: str, caplog: pytest.LogCaptureFixture, query: AuditQuery
) -> None:
    # Found by a tester: the filter reads the columns and the page prints the record
    # JSON, so after a column edit (trigger off) outcome=hard_veto listed a completed
    # record. Rows left out must not end a page early: each page is filled on.
    await _write_some(postgres_dsn, 12)  # hard vetoes with a shield stop: 2, 6, 10
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("SET session_replication_role = replica")  # triggers off
        conn.execute(
            "UPDATE audit_records SET outcome = 'hard_veto', gate_decisions ="
            " ARRAY['intent:pass', 'shield:stop'] WHERE seq IN (3, 4, 5, 7)"
        )
    sink = PostgresAuditSink(postgres_dsn, pool_size=1)
    await sink.open()
    caplog.set_level(logging.WARNING, logger="novaos.audit")
    try:
        reader = AuditReader(sink)
        for size in (1, 2, 50):
            pages: list[list[int]] = []
            token = ""
            while True:
                page = await reader.list(query, page_size=size, page_token=token)
                pages.append([r.seq for r in page.records])
                if not (token := page.next_page_token):
                    break
            assert [seq for p in pages for seq in p] == [2, 6, 10], (size, pages)
            assert all(len(p) == size for p in pages[:-1]), (size, pages)
    finally:
        await sink.aclose()
    warned = [
        r.getMessage() for r in caplog.records if "does not match its columns" in r.getMessage()
    ]
    assert "record 3 does not match its columns (outcome, gate_decisions)" in warned[0], warned
    assert "run verify" in warned[0]


async def test_a_listing_over_many_rows_left_out_is_bounded_and_warns_once_a_call(
    postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Found by a reviewer: one List call over a tampered table read on to the end,
    # a query per page_size + 1 rows and a warning per row (10,000 queries, 19,999
    # warnings, 22 s). A call now reads a bounded number of rows and, past it, returns
    # a short page with a token, which the client follows to the records after.
    tampered, honest = 5050, 10
    sink = PostgresAuditSink(postgres_dsn, pool_size=1)
    head = await sink.open()
    drafts = [
        build_record(
            summary(i, user="user-y" if i >= tampered else "user-x"),
            POLICY,
            ended_unix=1_700_000_000 + i,
        )
        for i in range(tampered + honest)
    ]
    await sink.append(seal_all(drafts, head))
    user = POLICY.user_ref("user-y")
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("SET session_replication_role = replica")  # triggers off
        conn.execute("UPDATE audit_records SET user_ref = %s WHERE seq <= %s", (user, tampered))
    caplog.set_level(logging.WARNING, logger="novaos.audit")
    try:
        reader = AuditReader(sink)
        pages: list[list[int]] = []
        warnings: list[list[str]] = []
        token = ""
        while True:
            caplog.clear()
            page = await reader.list(AuditQuery(user=user), page_size=1, page_token=token)
            pages.append([r.seq for r in page.records])
            warnings.append([r.getMessage() for r in caplog.records])
            if not (token := page.next_page_token):
                break
    finally:
        await sink.aclose()
    assert pages[0] == [] and len(pages) == honest + 1, pages  # short, with a token
    assert [seq for p in pages for seq in p] == list(range(tampered + 1, tampered + honest + 1))
    assert [len(w) for w in warnings] == [1, 1] + [0] * (honest - 1), warnings
    first = warnings[0][0]
    assert "(seq 1, 2, 3, 4, 5, …), the first: record 1 does not match its columns (user_ref)" in (
        first
    ), first
    assert first.endswith("run verify"), first


async def test_a_lookup_by_an_id_column_edited_behind_the_hash_finds_nothing(
    postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Found by a reviewer: GetAuditEvent read the id column, which the hash does not
    # cover: after UPDATE ... SET id = 'forged-id' it returned record 5, whose id is
    # another, for 'forged-id', and said nothing.
    records = await _write_some(postgres_dsn, 6)
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("SET session_replication_role = replica")  # triggers off
        conn.execute("UPDATE audit_records SET id = 'forged-id' WHERE seq = 5")
    sink = PostgresAuditSink(postgres_dsn, pool_size=1)
    await sink.open()
    caplog.set_level(logging.WARNING, logger="novaos.audit")
    try:
        reader = AuditReader(sink)
        with pytest.raises(NotFoundError):
            await reader.get("forged-id")
        assert (await reader.get(records[5].id)).seq == 6
    finally:
        await sink.aclose()
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "record 5 does not match its columns (id)" in warned[0], warned
    assert warned[0].endswith("run verify")


async def test_a_hung_database_spills_instead_of_holding_requests(
    postgres_dsn: str, tmp_path: Path
) -> None:
    # A stuck lock (here: another session holding the append lock) hung every
    # append: nothing spilled, the queue filled and chat requests waited on it.
    from novaos.audit.sinks.pg_schema import APPEND_LOCK_KEY

    sink = PostgresAuditSink(postgres_dsn, pool_size=2, timeout_s=0.5)
    writer = AuditWriter(
        sink, POLICY, spill_path=tmp_path / "spill.jsonl", queue_size=5, batch_size=5,
        max_backoff_s=0.2,
    )  # fmt: skip
    await writer.start()
    with psycopg.connect(postgres_dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (APPEND_LOCK_KEY,))
        try:
            for i in range(40):  # eight times the queue: waits for ever if nothing spills
                await asyncio.wait_for(writer.record(summary(i)), timeout=10)
            await await_until(
                lambda: _true(writer.status().spilled > 0), timeout_s=10, what="spilled"
            )
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (APPEND_LOCK_KEY,))
    await await_until(lambda: _true(writer.status().written == 40), timeout_s=20, what="all stored")
    await writer.aclose()
    assert len(table_records(postgres_dsn)) >= 40  # earlier tests' rows may share the table


async def test_every_sink_on_one_database_verifies_the_whole_chain(postgres_dsn: str) -> None:
    # head() was the sink's own cache: a verify on the worker that wrote less
    # stopped at its own last record and missed the others' (an edit included).
    first, second = PostgresAuditSink(postgres_dsn), PostgresAuditSink(postgres_dsn)
    head = await first.open()
    await second.open()
    stored = await first.append(seal_all([build_record(summary(1), POLICY, ended_unix=1)], head))
    head = await second.head()
    drafts = [build_record(summary(i), POLICY, ended_unix=i) for i in range(2, 5)]
    await second.append(seal_all(drafts, head))
    assert (await first.head()).seq == stored[-1].seq + 3
    results = [await AuditReader(sink).verify() for sink in (first, second)]
    assert results[0].checked == results[1].checked
    for sink in (first, second):
        await sink.aclose()


async def test_reads_while_the_database_is_down_say_unavailable(
    postgres_server: PostgresServer, postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    # psycopg's PoolTimeout went up unmapped: every AuditService read answered
    # INTERNAL with a traceback logged at error level.
    sink = PostgresAuditSink(postgres_dsn, pool_size=1, timeout_s=1.0)
    await sink.open()
    reader = AuditReader(sink)
    reads = {
        "list": lambda: reader.list(AuditQuery()),
        "get": lambda: reader.get("some-id"),
        "verify": reader.verify,
        "range": lambda: sink.range(1, 10),
    }
    try:
        await asyncio.to_thread(postgres_server.stop)
        caplog.set_level(logging.WARNING, logger="novaos")
        for name, read in reads.items():
            with pytest.raises(AuditSinkUnavailableError, match="unavailable") as caught:
                await read()
            assert caught.value.reason == "AUDIT_SINK_UNAVAILABLE", name
        assert all(r.levelno == logging.WARNING and not r.exc_info for r in caplog.records)
    finally:
        if not postgres_server.running:
            await asyncio.to_thread(postgres_server.start)
        await sink.aclose()


async def test_a_ranged_verify_blames_the_edited_anchor_not_the_next_record(
    postgres_dsn: str,
) -> None:
    # The table's owner turns the trigger off and edits the outcome inside the
    # record's JSON only: its columns then disagree, so range() hands it back with
    # a hash that cannot match, and verify --from-seq 4 said "record 4 does not
    # link to the previous one" although record 4 is intact.
    await _write_some(postgres_dsn, 6)
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("SET session_replication_role = replica")  # triggers off
        edited = conn.execute(  # record 3's outcome is control
            "UPDATE audit_records SET record = replace(record, %s, %s)"
            " WHERE seq = 3 AND strpos(record, %s) > 0",
            ('"outcome":"control"', '"outcome":"completed"', '"outcome":"control"'),
        ).rowcount
        assert edited == 1
    sink = PostgresAuditSink(postgres_dsn, pool_size=1)
    await sink.open()
    try:
        reader = AuditReader(sink)
        ranged = await reader.verify(4, 0)
        whole = await reader.verify()
        later = await reader.verify(5, 0)
    finally:
        await sink.aclose()
    assert (ranged.ok, ranged.first_bad_seq) == (False, 3), ranged
    assert (whole.ok, whole.first_bad_seq) == (False, 3), whole
    assert later.ok, later


async def test_a_row_that_no_longer_parses_hides_only_itself(
    postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The table's owner (trigger off) leaves record 5's JSON unparseable. List
    # failed with INTERNAL on every page holding it, get too, and verify blamed
    # the first record of its page instead of record 5.
    records = await _write_some(postgres_dsn, 12)
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("SET session_replication_role = replica")  # triggers off
        conn.execute("UPDATE audit_records SET record = left(record, 40) WHERE seq = 5")
    sink = PostgresAuditSink(postgres_dsn, pool_size=1)
    await sink.open()
    caplog.set_level(logging.WARNING, logger="novaos.audit")
    try:
        reader = AuditReader(sink)
        listed: list[int] = []
        token = ""
        while True:  # pages of 2: the page holding seq 5 ends with it
            page = await reader.list(AuditQuery(), page_size=2, page_token=token)
            listed += [r.seq for r in page.records]
            if not (token := page.next_page_token):
                break
        assert listed == [seq for seq in range(1, 13) if seq != 5]
        assert any("record 5 does not parse" in r.getMessage() for r in caplog.records)
        with pytest.raises(NotFoundError):
            await reader.get(records[4].id)
        assert (await reader.get(records[5].id)).seq == 6
        whole = await reader.verify()
        ranged = await reader.verify(3, 0)
        later = await reader.verify(7, 0)
    finally:
        await sink.aclose()
    assert (whole.ok, whole.first_bad_seq, whole.checked) == (False, 5, 4), whole
    assert "record 5 does not parse" in whole.problem
    assert (ranged.ok, ranged.first_bad_seq, ranged.checked) == (False, 5, 2), ranged
    assert later.ok and later.checked == 6, later


async def test_a_row_with_a_field_of_the_wrong_type_hides_only_itself(postgres_dsn: str) -> None:
    # seq "5" in the JSON (the table's owner, trigger off) failed verify and list
    # with INTERNAL instead of being reported as an unreadable record.
    await _write_some(postgres_dsn, 8)
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("SET session_replication_role = replica")  # triggers off
        conn.execute(
            "UPDATE audit_records SET record = jsonb_set(record::jsonb, '{seq}', '\"5\"')::text"
            " WHERE seq = 5"
        )
    sink = PostgresAuditSink(postgres_dsn, pool_size=1)
    await sink.open()
    try:
        reader = AuditReader(sink)
        listed = [r.seq for r in (await reader.list(AuditQuery(), page_size=50)).records]
        whole = await reader.verify()
    finally:
        await sink.aclose()
    assert listed == [1, 2, 3, 4, 6, 7, 8]
    assert (whole.ok, whole.first_bad_seq, whole.checked) == (False, 5, 4), whole
    assert "record 5 does not parse" in whole.problem and "seq" in whole.problem


async def test_a_call_cut_on_a_hung_database_ends_at_once(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    # psycopg answers a cancel by asking the server to cancel the query, waiting
    # up to 5 s for that and 5 s for the query to end: on a database that does not
    # answer, the writer's timeout (and a shutdown's cut) came 10 s late.
    sink = PostgresAuditSink(postgres_dsn)
    await sink.open()
    loop = asyncio.get_running_loop()
    try:
        with postgres_server.paused():
            calls: list[Callable[[], Awaitable[object]]] = [
                lambda: sink.append(chain(2)),
                sink.head,
            ]
            for call in calls:
                started = loop.time()
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.3):
                        await call()
                assert loop.time() - started < 2
    finally:
        await sink.aclose()


async def test_a_shutdown_spills_what_a_hung_database_did_not_take(
    postgres_server: PostgresServer, postgres_dsn: str, tmp_path: Path
) -> None:
    sink = PostgresAuditSink(postgres_dsn)
    writer = AuditWriter(sink, POLICY, spill_path=tmp_path / "spill.jsonl")
    await writer.start()
    loop = asyncio.get_running_loop()
    with postgres_server.paused():
        for i in range(3):
            await writer.record(summary(i))
        started = loop.time()
        async with asyncio.timeout(10):
            await writer.aclose(sink_wait_s=0.5)
        assert loop.time() - started < 3  # not the 10 s append timeout, nor 10 s more
    assert len((tmp_path / "spill.jsonl").read_bytes().splitlines()) == 3
    assert table_records(postgres_dsn) == []
