"""AuditWriter over the memory sink: order, spill and replay, watch, close."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from novaos.audit.chain import ChainHead
from novaos.audit.reader import AuditReader
from novaos.audit.record import AuditRecord
from novaos.audit.sink import AuditPage, AuditQuery
from novaos.audit.sinks.memory import MemoryAuditSink
from novaos.audit.spill import SpillFile
from novaos.audit.writer import AuditWriter
from novaos.errors import AuditNotStoredError, AuditWatchLaggedError
from tests.fixtures.audit_data import POLICY, chain, summary
from tests.fixtures.common import await_until, holds


class FlakyMemorySink(MemoryAuditSink):
    """The memory sink with a switch that makes it fail like a down database."""

    def __init__(self) -> None:
        super().__init__(capacity=100_000)
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("sink down")

    async def open(self) -> ChainHead:
        self._check()
        return await super().open()

    async def append(self, records: Sequence[AuditRecord]) -> list[AuditRecord]:
        self._check()
        return await super().append(records)

    async def list(self, query: AuditQuery) -> AuditPage:
        self._check()
        return await super().list(query)


class CountingObserver:
    def __init__(self) -> None:
        self.written = 0
        self.spills: list[int] = []
        self.errors = 0
        self.max_depth = 0

    def on_queue_depth(self, depth: int) -> None:
        self.max_depth = max(self.max_depth, depth)

    def on_spill(self, spilled: int, *, spilling: bool) -> None:
        self.spills.append(spilled)

    def on_written(self, count: int) -> None:
        self.written += count

    def on_sink_error(self, sink: str, error: BaseException) -> None:
        self.errors += 1


async def _writer(sink: MemoryAuditSink, tmp_path: Path, **kw: object) -> AuditWriter:
    writer = AuditWriter(
        sink,
        POLICY,
        spill_path=tmp_path / "spill.jsonl",
        max_backoff_s=0.05,
        **kw,  # type: ignore[arg-type]
    )
    await writer.start()
    return writer


async def _record_many(writer: AuditWriter, start: int, count: int, tasks: int = 10) -> list[str]:
    """Record from concurrent tasks; returns request ids in the order they were queued."""
    order: list[str] = []

    async def worker(offset: int) -> None:
        for i in range(start + offset, start + count, tasks):
            await writer.record(summary(i))
            order.append(f"req-{i:05d}")  # record() queues before it first yields

    await asyncio.gather(*(worker(k) for k in range(tasks)))
    return order


async def test_concurrent_records_are_all_chained_in_order(tmp_path: Path) -> None:
    sink = MemoryAuditSink()
    observer = CountingObserver()
    writer = await _writer(sink, tmp_path, observer=observer, batch_size=16)
    order = await _record_many(writer, 0, 200)
    await writer.aclose()
    records = list(sink.records)
    assert [r.seq for r in records] == list(range(1, 201))
    assert [r.request_id for r in records] == order
    assert (await AuditReader(sink, writer).verify()).ok
    assert observer.written == 200 and writer.status().written == 200


async def test_a_summary_that_cannot_become_a_record_costs_only_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A lone surrogate cannot be hashed or stored as UTF-8; it arrives in the
    # same batch as good summaries, which must all be kept.
    sink = MemoryAuditSink()
    writer = await _writer(sink, tmp_path, linger_s=0.05)
    await writer.record(summary(1))
    await writer.record(replace(summary(2), released_text="broken \ud83d"))
    await writer.record(summary(3))
    await writer.aclose()
    assert [r.request_id for r in sink.records] == ["req-00001", "req-00003"]
    assert [r.seq for r in sink.records] == [1, 2]
    assert "no record could be built for req-00002" in caplog.text


async def test_sink_outage_spills_then_replays_in_order(tmp_path: Path) -> None:
    sink = FlakyMemorySink()
    observer = CountingObserver()
    writer = await _writer(sink, tmp_path, observer=observer)
    order = await _record_many(writer, 0, 50)
    await await_until(lambda: holds(writer.status().written == 50), what="first 50 written")
    sink.down = True
    order += await _record_many(writer, 50, 100)
    await await_until(lambda: holds(writer.status().spilled == 100), what="100 spilled")
    assert writer.status().status == "spilling"
    assert len(sink.records) == 50 and observer.errors >= 1
    sink.down = False
    order += await _record_many(writer, 150, 50)
    await await_until(
        lambda: holds(writer.status().written == 200 and writer.status().spilled == 0),
        what="replay",
    )
    status = writer.status()
    assert (status.status, status.spilled, status.head_seq) == ("ok", 0, 200)
    await writer.aclose()
    assert [r.request_id for r in sink.records] == order
    assert (await AuditReader(sink).verify()).ok


async def test_close_while_down_keeps_records_for_the_next_start(tmp_path: Path) -> None:
    sink = FlakyMemorySink()
    sink.down = True
    writer = await _writer(sink, tmp_path)
    assert writer.status().status == "down"
    order = await _record_many(writer, 0, 30)
    await writer.aclose()
    assert len(sink.records) == 0
    assert len((tmp_path / "spill.jsonl").read_bytes().splitlines()) == 30

    sink.down = False
    again = await _writer(sink, tmp_path)
    await again.record(summary(30))
    await again.aclose()
    assert [r.request_id for r in sink.records] == [*order, "req-00030"]
    assert (await AuditReader(sink).verify()).ok
    assert (tmp_path / "spill.jsonl").read_bytes() == b""


async def test_a_spilled_last_record_missing_only_its_newline_is_kept(tmp_path: Path) -> None:
    # It was cut at start as a torn write: the only copy of that record, gone,
    # and verify still said ok.
    sink = FlakyMemorySink()
    sink.down = True
    writer = await _writer(sink, tmp_path)
    order = await _record_many(writer, 0, 5)
    await writer.aclose()
    spill = tmp_path / "spill.jsonl"
    whole = spill.read_bytes()
    spill.write_bytes(whole[:-1])  # a restore that dropped the final line break

    sink.down = False
    again = await _writer(sink, tmp_path)
    await again.record(summary(5))
    await again.aclose()
    assert [r.request_id for r in sink.records] == [*order, "req-00005"]
    result = await AuditReader(sink).verify()
    assert (result.ok, result.checked) == (True, 6)


async def test_a_spilled_last_record_that_does_not_follow_is_quarantined_not_cut(
    tmp_path: Path,
) -> None:
    # Missing its newline, a whole record that does not follow the one before
    # it was cut as torn: gone without a trace. Now it is read like a whole
    # line, and the spill check copies the spill aside before dropping it.
    path = tmp_path / "spill.jsonl"
    records = chain(3)
    path.write_bytes(b"".join(r.line() for r in records) + records[1].line()[:-1])
    spill = SpillFile(path)
    assert await spill.open() == 3
    assert spill.quarantined == 1
    (aside,) = [n for n in await asyncio.to_thread(os.listdir, tmp_path) if "quarantined" in n]
    assert (await asyncio.to_thread((tmp_path / aside).read_bytes)).endswith(records[1].line())
    await spill.aclose()


async def test_watchers_get_new_records_and_laggards_are_cut_off(tmp_path: Path) -> None:
    sink = MemoryAuditSink()
    writer = await _writer(sink, tmp_path, watch_queue_size=5)
    reader = AuditReader(sink, writer)
    seen: list[int] = []

    async def follow() -> None:
        async for record in reader.watch():
            seen.append(record.seq)
            if len(seen) == 20:
                return

    follower = asyncio.create_task(follow())
    await await_until(lambda: holds(writer.status().watchers == 1), what="subscribed")
    laggard = writer.subscribe()  # never read: its 5-slot queue overflows
    for i in range(20):
        await writer.record(summary(i))
        await await_until(lambda i=i: holds(writer.status().written == i + 1), what="written")
    await follower
    assert seen == list(range(1, 21))
    got: list[int] = []
    with pytest.raises(AuditWatchLaggedError):
        async for record in laggard:
            got.append(record.seq)
    # it keeps what it was sent, in order, up to the record that did not fit:
    # resuming with List after its last seq misses nothing
    assert got == [1, 2, 3, 4, 5]
    assert writer.status().watchers == 0
    await writer.aclose()


async def test_closing_reaches_a_watcher_whose_queue_is_exactly_full(tmp_path: Path) -> None:
    sink = MemoryAuditSink()
    writer = await _writer(sink, tmp_path, watch_queue_size=3)
    watcher = writer.subscribe()
    for i in range(3):
        await writer.record(summary(i))
    await await_until(lambda: holds(writer.status().written == 3), what="written")
    await writer.aclose()
    async with asyncio.timeout(10):  # it ends, instead of waiting forever
        seqs = [record.seq async for record in watcher]
    assert seqs == [1, 2, 3]


async def test_ending_watches_at_shutdown_delivers_what_was_queued_then_ends_cleanly(
    tmp_path: Path,
) -> None:
    sink = MemoryAuditSink()
    writer = await _writer(sink, tmp_path)
    watcher = writer.subscribe()
    for i in range(3):
        await writer.record(summary(i))
    await await_until(lambda: holds(writer.status().written == 3), what="written")
    assert writer.end_watches() == 1
    assert writer.status().watchers == 0
    async with asyncio.timeout(10):  # ends without an error, after its records
        seqs = [record.seq async for record in watcher]
    assert seqs == [1, 2, 3]
    late = writer.subscribe()  # accepted just before the listener closed: ends at once
    async with asyncio.timeout(10):
        assert [record.seq async for record in late] == []
    await writer.aclose()


async def test_verify_is_not_alarmed_by_records_still_in_the_spill(tmp_path: Path) -> None:
    # Sealed but spilled (the sink refuses writes, reads still work): the stored
    # chain is whole, nothing is missing from it yet.
    sink = FlakyMemorySink()
    writer = await _writer(sink, tmp_path)
    for i in range(5):
        await writer.record(summary(i))
    await await_until(lambda: holds(writer.status().written == 5), what="written")

    async def refuse(records: Sequence[AuditRecord]) -> list[AuditRecord]:
        raise ConnectionError("disk full")

    sink.append = refuse  # type: ignore[method-assign]
    await writer.record(summary(5))
    await await_until(lambda: holds(writer.status().spilled == 1), what="spilled")
    result = await AuditReader(sink, writer).verify()
    assert (result.ok, result.checked) == (True, 5), result
    await writer.aclose(close_sink=False)


async def test_a_second_process_gets_its_own_spill_file(tmp_path: Path) -> None:
    from novaos.audit.spill import SpillFile

    first, second = SpillFile(tmp_path / "spill.jsonl"), SpillFile(tmp_path / "spill.jsonl")
    await first.open()
    await second.open()
    assert (first.path.name, second.path.name) == ("spill.jsonl", "spill-1.jsonl")
    await first.aclose()
    await second.aclose()


class _SpillFailures:
    """Makes a writer's spill refuse appends (a full local disk) while ``left`` > 0."""

    def __init__(self, writer: AuditWriter, left: int) -> None:
        self.left = left
        spill = writer._spill
        original = spill.append

        async def append(records: Sequence[AuditRecord]) -> int:
            if self.left > 0:
                self.left -= 1
                raise OSError(28, "No space left on device")
            return await original(records)

        spill.append = append  # type: ignore[method-assign]


async def test_records_the_spill_could_not_take_keep_their_place(tmp_path: Path) -> None:
    sink = FlakyMemorySink()
    sink.down = True
    writer = await _writer(sink, tmp_path, linger_s=0)
    _SpillFailures(writer, left=1)  # the first batch is held in memory, later ones spill
    await writer.record(summary(1))
    await await_until(lambda: holds(writer.status().spilled == 1), what="held")
    await writer.record(summary(2))
    await await_until(lambda: holds(writer.status().spilled == 2), what="parked")
    sink.down = False
    await await_until(lambda: holds(writer.status().written == 2), what="replayed")
    await writer.aclose()
    assert [r.request_id for r in sink.records] == ["req-00001", "req-00002"]


async def test_held_records_reach_a_sink_that_is_back_while_the_spill_is_still_full(
    tmp_path: Path,
) -> None:
    sink = FlakyMemorySink()
    sink.down = True
    writer = await _writer(sink, tmp_path, linger_s=0)
    _SpillFailures(writer, left=10**6)  # the disk stays full
    for i in range(3):
        await writer.record(summary(i))
    await await_until(lambda: holds(writer.status().spilled == 3), what="held")
    sink.down = False
    await await_until(lambda: holds(writer.status().written == 3), what="stored from memory")
    await writer.aclose()
    assert [r.request_id for r in sink.records] == ["req-00000", "req-00001", "req-00002"]
    assert (await AuditReader(sink, writer).verify()).ok


# ------------------------------------------------------- store before reply


async def test_by_default_record_returns_before_the_record_is_stored(tmp_path: Path) -> None:
    sink = MemoryAuditSink()
    writer = await _writer(sink, tmp_path)
    await writer.record(summary(1))
    assert list(sink.records) == []  # queued: the answer goes out while it is written
    await writer.aclose()
    assert [r.request_id for r in sink.records] == ["req-00001"]


async def test_store_before_reply_returns_once_the_sink_has_the_record(tmp_path: Path) -> None:
    sink = MemoryAuditSink()
    writer = await _writer(sink, tmp_path, store_before_reply=True)
    for i in (1, 2):
        await writer.record(summary(i))
        assert [r.request_id for r in sink.records][-1] == f"req-{i:05d}"
    await writer.aclose()
    assert [r.seq for r in sink.records] == [1, 2]


async def test_store_before_reply_counts_the_fsynced_spill_as_stored(tmp_path: Path) -> None:
    sink = FlakyMemorySink()
    writer = await _writer(sink, tmp_path, store_before_reply=True)
    sink.down = True
    await writer.record(summary(1))  # returns: the record is in the spill file
    assert writer.status().spilled == 1 and list(sink.records) == []
    assert b"req-00001" in (tmp_path / "spill.jsonl").read_bytes()
    sink.down = False
    await writer.aclose()
    assert [r.request_id for r in sink.records] == ["req-00001"]


async def test_store_before_reply_raises_when_neither_sink_nor_spill_takes_it(
    tmp_path: Path,
) -> None:
    sink = FlakyMemorySink()
    writer = AuditWriter(sink, POLICY, spill_path=None, max_backoff_s=0.05, store_before_reply=True)
    await writer.start()
    sink.down = True
    with pytest.raises(AuditNotStoredError, match="sink and spill both failed"):
        await writer.record(summary(1))
    assert writer.status().status == "down"
    sink.down = False  # the record was kept in memory, and is stored once the sink is back
    await await_until(lambda: holds(writer.status().status == "ok"), what="the sink back")
    await writer.record(summary(2))
    await writer.aclose()
    assert [r.request_id for r in sink.records] == ["req-00001", "req-00002"]
    assert (await AuditReader(sink, writer).verify()).ok


async def test_store_before_reply_raises_for_a_summary_that_cannot_be_a_record(
    tmp_path: Path,
) -> None:
    sink = MemoryAuditSink()
    writer = await _writer(sink, tmp_path, store_before_reply=True)
    with pytest.raises(AuditNotStoredError, match="no record could be built"):
        await writer.record(replace(summary(1), released_text="broken \ud83d"))
    await writer.record(summary(2))
    await writer.aclose()
    assert [r.request_id for r in sink.records] == ["req-00002"]


class HangingSink(MemoryAuditSink):
    """Appends wait until ``opened`` is set, like a database holding a lock."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = asyncio.Event()
        self.waiting = 0

    async def append(self, records: Sequence[AuditRecord]) -> list[AuditRecord]:
        self.waiting += 1
        await self.opened.wait()
        return await super().append(records)


async def test_a_caller_that_stops_waiting_still_gets_its_record_stored(tmp_path: Path) -> None:
    sink = HangingSink()
    writer = await _writer(sink, tmp_path, store_before_reply=True)
    waiting = asyncio.create_task(writer.record(summary(1)))
    await await_until(lambda: holds(sink.waiting == 1), what="the append under way")
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    sink.opened.set()
    await writer.aclose()
    assert [r.request_id for r in sink.records] == ["req-00001"]


class StuckSink(MemoryAuditSink):
    """While ``stuck``, every call hangs (a lock that is never released)."""

    def __init__(self) -> None:
        super().__init__()
        self.stuck = False
        self.calls = 0

    async def _maybe_hang(self) -> None:
        self.calls += 1
        if self.stuck:
            await asyncio.Event().wait()

    async def append(self, records: Sequence[AuditRecord]) -> list[AuditRecord]:
        await self._maybe_hang()
        return await super().append(records)

    async def head(self) -> ChainHead:
        await self._maybe_hang()
        return await super().head()


async def test_a_sink_that_hangs_while_the_spill_replays_still_times_out(
    tmp_path: Path,
) -> None:
    # The replay after the first timeout calls the sink too; hanging there held
    # the writer, and every answer waiting for its record, for good.
    sink = StuckSink()
    writer = await _writer(sink, tmp_path, store_before_reply=True, append_timeout_s=0.2)
    sink.stuck = True
    await writer.record(summary(1))  # its append timed out: spilled
    calls = sink.calls
    await await_until(lambda: holds(sink.calls > calls), what="a replay under way")
    await asyncio.wait_for(writer.record(summary(2)), timeout=10)
    assert writer.status().spilled == 2
    sink.stuck = False
    await writer.aclose()
    assert [r.request_id for r in sink.records] == ["req-00001", "req-00002"]


async def test_a_shutdown_cuts_the_hung_sink_call_and_spills_its_records(tmp_path: Path) -> None:
    # The close waited out append_timeout_s (10 s) for the append under way, and
    # as long again for the last replay: a worker draining onto a hung database was
    # killed first (the supervisor's grace + 5 s), and its records with it.
    sink = StuckSink()
    writer = await _writer(sink, tmp_path)  # append_timeout_s: the default 10 s
    sink.stuck = True
    for i in range(3):
        await writer.record(summary(i))
    await await_until(lambda: holds(sink.calls >= 1), what="the append under way")
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(5):
        await writer.aclose(sink_wait_s=0.2)
    assert loop.time() - started < 2
    spilled = (tmp_path / "spill.jsonl").read_bytes().splitlines()
    assert len(spilled) == 3 and not sink.records
    sink.stuck = False
    again = await _writer(sink, tmp_path)  # the next start replays them
    await again.aclose()
    assert [r.request_id for r in sink.records] == [f"req-0000{i}" for i in range(3)]


async def test_store_before_reply_refuses_a_record_after_close(tmp_path: Path) -> None:
    writer = await _writer(MemoryAuditSink(), tmp_path, store_before_reply=True)
    await writer.aclose()
    with pytest.raises(AuditNotStoredError, match="closed"):
        await writer.record(summary(1))


async def test_a_writer_failure_leaves_nobody_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = MemoryAuditSink()
    writer = await _writer(sink, tmp_path, store_before_reply=True)

    def broken(*_: object) -> list[AuditRecord]:
        raise RuntimeError("a bug in sealing")

    monkeypatch.setattr("novaos.audit.writer.seal_all", broken)
    with pytest.raises(AuditNotStoredError, match="the audit writer failed"):
        await asyncio.wait_for(writer.record(summary(1)), timeout=10)
    monkeypatch.undo()
    await writer.record(summary(2))  # the writer task lives on
    await writer.aclose()
    assert [r.request_id for r in sink.records] == ["req-00002"]


async def test_replay_attempts_against_a_sink_still_down_leave_the_spill_file_alone(
    tmp_path: Path,
) -> None:
    # Each failed attempt rewrote the whole spill file unchanged (a copy, then a
    # rename): twice the spill's size in free space, every backoff.
    sink = FlakyMemorySink()
    observer = CountingObserver()
    writer = await _writer(sink, tmp_path, observer=observer)
    sink.down = True
    await _record_many(writer, 0, 20)
    await await_until(lambda: holds(writer.status().spilled == 20), what="20 spilled")
    spill = tmp_path / "spill.jsonl"
    before, errors = spill.stat().st_ino, observer.errors
    await await_until(lambda: holds(observer.errors >= errors + 3), what="three more attempts")
    assert spill.stat().st_ino == before
    sink.down = False
    await await_until(lambda: holds(writer.status().written == 20), what="replayed")
    await writer.aclose()


async def test_a_spill_rewrite_that_fails_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill = SpillFile(tmp_path / "spill.jsonl")
    await spill.open()
    records = chain(3)
    await spill.append(records)

    def disk_full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("novaos.audit.spill.write_all", disk_full)
    with pytest.raises(OSError, match="No space"):
        await spill.replace(records[1:])
    assert sorted(await asyncio.to_thread(os.listdir, tmp_path)) == ["spill.jsonl"]
    assert [r.id for r in await spill.read()] == [r.id for r in records]
    await spill.aclose()
