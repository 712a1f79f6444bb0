"""SharedFanout on a real redis-server: every worker's records, in seq order, once.

Two hubs on one channel and one file directory stand for two worker processes
sharing the chain. The records come from the file sink, as in production.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from novaos.audit.chain import UNKEYED, ChainHead, ChainKeys, digest, seal_all
from novaos.audit.record import AuditRecord, build_record, with_chain
from novaos.audit.sinks.file import FileAuditSink
from novaos.audit.watch import SharedFanout, Subscription, encode_records
from novaos.errors import AuditWatchInterruptedError
from novaos.storage.redis_channel import RedisChannel
from tests.fixtures.audit_data import POLICY, summary
from tests.fixtures.common import await_until
from tests.fixtures.redis_server import RedisServer

CHANNEL = "audit:records"
LONG = 60.0  # a wait that must not be what makes a test pass


def _hub(
    url: str, sink: FileAuditSink, *, keys: ChainKeys = UNKEYED, **timing: float
) -> SharedFanout:
    channel = RedisChannel.connect(CHANNEL, url=url, cluster_nodes=(), timeout_s=2.0)
    timing = {"gap_wait_s": LONG, "tail_check_s": LONG, "max_backoff_s": 0.2, **timing}
    return SharedFanout(channel, sink, maxsize=1000, keys=keys, **timing)


async def _started(hub: SharedFanout) -> SharedFanout:
    await hub.start()

    async def up() -> bool:
        return hub.up

    await await_until(up, what="subscribed to the channel")
    return hub


async def _sink(directory: Path) -> FileAuditSink:
    sink = FileAuditSink(directory)
    await sink.open()
    return sink


async def _append(sink: FileAuditSink, first: int, count: int) -> list[AuditRecord]:
    """Store ``count`` records (the sink re-chains onto whatever the head is)."""
    return await sink.append(seal_all(_drafts(first, count), await sink.head()))


def _drafts(first: int, count: int) -> list[AuditRecord]:
    return [
        build_record(summary(i), POLICY, ended_unix=1_700_000_000 + i)
        for i in range(first, first + count)
    ]


async def _collect(
    sub: Subscription | AsyncIterator[AuditRecord], want: int, into: list[int]
) -> None:
    """Read until ``into`` holds ``want`` seqs (an iterator may be read again)."""
    records = sub if not isinstance(sub, Subscription) else aiter(sub)
    while len(into) < want:
        into.append((await anext(records)).seq)


async def _raw_publish(url: str, records: Sequence[AuditRecord]) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        await client.publish(CHANNEL, encode_records(records))
    finally:
        await client.aclose()


@pytest.fixture
async def two_workers(
    tmp_path: Path, redis_url: str
) -> AsyncIterator[tuple[list[FileAuditSink], list[SharedFanout]]]:
    sinks = [await _sink(tmp_path / "audit"), await _sink(tmp_path / "audit")]
    hubs = [await _started(_hub(redis_url, sink)) for sink in sinks]
    yield sinks, hubs
    for hub in hubs:
        await hub.aclose()
    for sink in sinks:
        await sink.aclose()


async def test_a_watcher_gets_both_workers_records_once_in_order(
    two_workers: tuple[list[FileAuditSink], list[SharedFanout]],
) -> None:
    sinks, hubs = two_workers
    seen: list[list[int]] = [[], []]
    subs = [hub.subscribe() for hub in hubs]
    readers = [asyncio.create_task(_collect(s, 40, got)) for s, got in zip(subs, seen, strict=True)]
    for n in range(20):  # alternate workers; each publishes what its sink took
        worker = n % 2
        hubs[worker].publish(await _append(sinks[worker], 2 * n, 2))
    await asyncio.wait_for(asyncio.gather(*readers), LONG)
    # each worker's own records came to it twice (at once and back from Redis):
    # delivered once; the other worker's came over Redis
    assert seen == [list(range(1, 41)), list(range(1, 41))]


async def test_an_early_record_waits_for_those_before_it(tmp_path: Path, redis_url: str) -> None:
    sink = await _sink(tmp_path / "audit")
    hub = await _started(_hub(redis_url, sink))  # a gap is never read from the sink here
    try:
        sub = aiter(hub.subscribe())
        stored = await _append(sink, 0, 3)
        await _raw_publish(redis_url, stored[2:])  # the third, then the first two
        await _raw_publish(redis_url, stored[:2])
        await _raw_publish(redis_url, stored)  # and all of them again
        seen: list[int] = []
        await asyncio.wait_for(_collect(sub, 3, seen), LONG)
        stored += await _append(sink, 3, 1)
        await _raw_publish(redis_url, stored[3:])
        await asyncio.wait_for(_collect(sub, 4, seen), LONG)
        assert seen == [1, 2, 3, 4]  # no repeat of the re-sent three
    finally:
        await hub.aclose()
        await sink.aclose()


async def test_a_record_whose_message_was_lost_is_read_from_the_log(
    tmp_path: Path, redis_url: str
) -> None:
    sink = await _sink(tmp_path / "audit")
    hub = await _started(_hub(redis_url, sink, gap_wait_s=0.05))
    try:
        sub = hub.subscribe()
        stored = await _append(sink, 0, 5)
        await _raw_publish(redis_url, [stored[0]])
        await _raw_publish(redis_url, stored[3:])  # 2 and 3 were never published
        seen: list[int] = []
        await asyncio.wait_for(_collect(sub, 5, seen), LONG)
        assert seen == [1, 2, 3, 4, 5]
    finally:
        await hub.aclose()
        await sink.aclose()


async def test_a_tail_no_message_announced_is_read_from_the_log(
    tmp_path: Path, redis_url: str
) -> None:
    sink = await _sink(tmp_path / "audit")
    hub = await _started(_hub(redis_url, sink, tail_check_s=0.05))
    try:
        sub = hub.subscribe()
        stored = await _append(sink, 0, 3)
        await _raw_publish(redis_url, stored[:1])  # the last two never come
        seen: list[int] = []
        await asyncio.wait_for(_collect(sub, 3, seen), LONG)
        assert seen == [1, 2, 3]
    finally:
        await hub.aclose()
        await sink.aclose()


async def test_a_record_missing_from_the_log_cuts_the_watcher_off(
    tmp_path: Path, redis_url: str
) -> None:
    sink = await _sink(tmp_path / "audit")
    other = await _sink(tmp_path / "elsewhere")  # a chain this hub cannot read
    hub = await _started(_hub(redis_url, sink, gap_wait_s=0.05))
    try:
        sub = hub.subscribe()
        # 2 and 3 come, and 1 is neither heard nor in the log this worker reads
        await _raw_publish(redis_url, (await _append(other, 0, 3))[1:])
        seen: list[int] = []
        with pytest.raises(AuditWatchInterruptedError, match="record 1 is not in the log"):
            await asyncio.wait_for(_collect(sub, 3, seen), LONG)
        assert seen == []  # never a record with the ones before it skipped
    finally:
        await hub.aclose()
        await sink.aclose()
        await other.aclose()


async def test_a_record_that_does_not_link_cuts_the_watcher_off(
    tmp_path: Path, redis_url: str
) -> None:
    sink = await _sink(tmp_path / "audit")
    other = await _sink(tmp_path / "elsewhere")
    hub = await _started(_hub(redis_url, sink))
    try:
        sub = aiter(hub.subscribe())
        ours = await _append(sink, 0, 2)
        await _raw_publish(redis_url, ours[:1])
        seen: list[int] = []
        await asyncio.wait_for(_collect(sub, 1, seen), LONG)
        forged = (await _append(other, 10, 2))[1]  # seq 2 of another chain
        await _raw_publish(redis_url, [forged])
        with pytest.raises(AuditWatchInterruptedError, match="does not link"):
            await asyncio.wait_for(_collect(sub, 2, seen), LONG)
        assert seen == [1]
    finally:
        await hub.aclose()
        await sink.aclose()
        await other.aclose()


async def test_a_message_ahead_of_the_chain_does_not_silence_later_watchers(
    tmp_path: Path, redis_url: str
) -> None:
    sink = await _sink(tmp_path / "audit")
    hub = await _started(_hub(redis_url, sink, gap_wait_s=0.05, tail_check_s=0.2))
    try:
        first = hub.subscribe()
        # one record from another chain (or a stale or forged one), far ahead of ours
        await _raw_publish(redis_url, seal_all(_drafts(900, 1), ChainHead(999_999, "f" * 64)))
        with pytest.raises(AuditWatchInterruptedError, match="record 1 is not in the log"):
            await asyncio.wait_for(_collect(first, 1, []), LONG)

        async def up() -> bool:
            return hub.up

        await await_until(up, what="started again after the log's head")
        second = hub.subscribe()
        for n in range(5):  # the real chain goes on
            hub.publish(await _append(sink, n, 1))
        seen: list[int] = []
        await asyncio.wait_for(_collect(second, 5, seen), 5.0)
        assert seen == [1, 2, 3, 4, 5]  # not dropped as "already delivered"
    finally:
        await hub.aclose()
        await sink.aclose()


async def test_a_message_ahead_of_the_chain_heard_with_no_watcher_is_caught(
    tmp_path: Path, redis_url: str
) -> None:
    sink = await _sink(tmp_path / "audit")
    hub = await _started(_hub(redis_url, sink, tail_check_s=0.2))
    try:
        # heard while nobody watches: the start moves past it, unchecked for now
        await _raw_publish(redis_url, seal_all(_drafts(900, 1), ChainHead(999_999, "f" * 64)))

        async def heard() -> bool:
            return hub._next > 999_999

        await await_until(heard, what="the message to be heard")
        await _append(sink, 0, 1)
        first = hub.subscribe()
        for n in range(1, 3):
            hub.publish(await _append(sink, n, 1))
        # the tail check finds the log behind what the hub thinks it delivered
        with pytest.raises(AuditWatchInterruptedError, match="ran ahead of the log"):
            await asyncio.wait_for(_collect(first, 1, []), 5.0)

        async def up() -> bool:
            return hub.up

        await await_until(up, what="started again after the log's head")
        second = hub.subscribe()
        hub.publish(await _append(sink, 3, 1))
        seen: list[int] = []
        await asyncio.wait_for(_collect(second, 1, seen), 5.0)
        assert seen == [4]
    finally:
        await hub.aclose()
        await sink.aclose()


class _HeadFailsOnce(FileAuditSink):
    """head() down when the channel subscribes (the database not up yet)."""

    failures = 1

    async def head(self) -> ChainHead:
        if self.failures:
            self.failures -= 1
            raise OSError("sink down")
        return await super().head()


async def test_watchers_wait_until_the_head_is_read_when_the_sink_is_down_at_first(
    tmp_path: Path, redis_url: str
) -> None:
    sink = _HeadFailsOnce(tmp_path / "audit")
    await sink.open()
    hub = await _started(_hub(redis_url, sink))  # up only once the head was read
    try:
        assert sink.failures == 0
        sub = hub.subscribe()
        hub.publish(await _append(sink, 0, 3))
        hub.publish(await _append(sink, 3, 1))
        seen: list[int] = []
        await asyncio.wait_for(_collect(sub, 4, seen), 5.0)
        assert seen == [1, 2, 3, 4]  # not only what came after the first message
    finally:
        await hub.aclose()
        await sink.aclose()


class _HeadHangsOnce(FileAuditSink):
    """head() never answers the first time (a database behind a partition)."""

    hangs = 1

    async def head(self) -> ChainHead:
        if self.hangs:
            self.hangs -= 1
            await asyncio.Event().wait()
        return await super().head()


async def test_a_head_read_that_times_out_is_logged_with_a_reason(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="novaos.audit")
    sink = _HeadHangsOnce(tmp_path / "audit")
    await sink.open()
    hub = await _started(_hub(redis_url, sink, read_timeout_s=0.2))  # up once read again
    try:
        assert sink.hangs == 0
        failed = [
            r.getMessage()
            for r in caplog.records
            if "reading the log's head failed" in r.getMessage()
        ]
        # asyncio.timeout's TimeoutError has no message: its type is the reason
        assert failed == ["audit watch: reading the log's head failed: TimeoutError"]
    finally:
        await hub.aclose()
        await sink.aclose()


async def test_a_heard_record_whose_hash_does_not_match_is_not_streamed(
    tmp_path: Path, redis_url: str
) -> None:
    sink = await _sink(tmp_path / "audit")
    hub = await _started(_hub(redis_url, sink, gap_wait_s=0.05))
    try:
        sub = aiter(hub.subscribe())
        first = await _append(sink, 0, 1)
        hub.publish(first)
        # the next seq, linked onto the last record, but its hash is not its digest
        fake = with_chain(_drafts(77, 1)[0], seq=2, prev_hash=first[0].hash, digest="0" * 64)
        await _raw_publish(redis_url, [fake])
        real = await _append(sink, 1, 2)
        await _raw_publish(redis_url, real[1:])  # seq 2's own message was lost
        got: list[AuditRecord] = []
        async with asyncio.timeout(5):
            while len(got) < 3:
                got.append(await anext(sub))
        assert [r.hash for r in got] == [first[0].hash, real[0].hash, real[1].hash]
        assert all(digest(r) == r.hash for r in got)
    finally:
        await hub.aclose()
        await sink.aclose()


async def test_keyed_records_heard_from_another_worker_are_streamed(
    tmp_path: Path, redis_url: str
) -> None:
    keys = ChainKeys.of(b"k" * 32)
    sinks = [FileAuditSink(tmp_path / "audit", keys=keys) for _ in range(2)]
    for sink in sinks:
        await sink.open()
    # The watcher's gap wait is long: a record it dropped as unsound would hang it.
    hubs = [await _started(_hub(redis_url, sink, keys=keys)) for sink in sinks]
    try:
        sub = aiter(hubs[0].subscribe())
        stored = await sinks[1].append(seal_all(_drafts(0, 3), await sinks[1].head(), keys))
        assert {r.key_id for r in stored} != {""}
        hubs[1].publish(stored)
        async with asyncio.timeout(5):
            got = [await anext(sub) for _ in range(3)]
        assert [r.hash for r in got] == [r.hash for r in stored]
    finally:
        for hub in hubs:
            await hub.aclose()
        for sink in sinks:
            await sink.aclose()


class _RangeHangs(FileAuditSink):
    """range() never answers (a database behind a network partition)."""

    async def range(self, from_seq: int, to_seq: int, *, limit: int = 1000) -> list[AuditRecord]:
        await asyncio.Event().wait()
        return []


async def test_a_read_that_never_answers_cuts_the_watcher_off(
    tmp_path: Path, redis_url: str
) -> None:
    sink = _RangeHangs(tmp_path / "audit")
    await sink.open()
    hub = await _started(_hub(redis_url, sink, gap_wait_s=0.05, read_timeout_s=0.2))
    try:
        sub = hub.subscribe()
        stored = await _append(sink, 0, 2)
        await _raw_publish(redis_url, stored[1:])  # 1 never announced: read from the sink
        with pytest.raises(AuditWatchInterruptedError, match="could not be read"):
            await asyncio.wait_for(_collect(sub, 2, []), 5.0)
    finally:
        await hub.aclose()
        await sink.aclose()


class _RangeFails(FileAuditSink):
    async def range(self, from_seq: int, to_seq: int, *, limit: int = 1000) -> list[AuditRecord]:
        raise OSError("connection to host=db.internal user=audit failed")


async def test_a_failed_read_is_logged_and_the_watcher_told_no_more(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    sink = _RangeFails(tmp_path / "audit")
    await sink.open()
    hub = await _started(_hub(redis_url, sink, gap_wait_s=0.05))
    try:
        caplog.set_level(logging.WARNING, logger="novaos.audit")
        sub = hub.subscribe()
        stored = await _append(sink, 0, 2)
        await _raw_publish(redis_url, stored[1:])  # 1 is read from the sink, which fails
        with pytest.raises(AuditWatchInterruptedError) as cut:
            await asyncio.wait_for(_collect(sub, 2, []), 5.0)
        assert "db.internal" not in cut.value.message  # the sink's error stays in the log
        assert "records 1..1 could not be read from the log" in cut.value.message
        assert any("db.internal" in r.getMessage() for r in caplog.records)
    finally:
        await hub.aclose()
        await sink.aclose()


async def test_records_waiting_on_a_gap_are_bounded(tmp_path: Path, redis_url: str) -> None:
    sink = _RangeHangs(tmp_path / "audit")
    await sink.open()
    hub = await _started(_hub(redis_url, sink, gap_wait_s=0.05))  # the read hangs for LONG
    try:
        sub = hub.subscribe()
        records = seal_all(_drafts(0, 1101), ChainHead())
        for at in range(1, len(records), 100):  # 1 never announced; 2..1101 are
            await _raw_publish(redis_url, records[at : at + 100])
        with pytest.raises(AuditWatchInterruptedError, match="more than 1000 records wait"):
            await asyncio.wait_for(_collect(sub, 1, []), 5.0)
        assert len(hub._pending) <= 1000
    finally:
        await hub.aclose()
        await sink.aclose()


class _CountingSink(FileAuditSink):
    ranges = 0

    async def range(self, from_seq: int, to_seq: int, *, limit: int = 1000) -> list[AuditRecord]:
        self.ranges += 1
        return await super().range(from_seq, to_seq, limit=limit)


async def test_under_steady_load_nothing_in_flight_is_read_from_the_sink(
    tmp_path: Path, redis_url: str
) -> None:
    # A gap opens whenever a worker's own record is delivered ahead of the other's
    # (in flight for a millisecond); with no message lost, neither the gap fill
    # (after its grace) nor the tail check (every tail_check_s) should read the sink.
    sinks = [_CountingSink(tmp_path / "audit"), _CountingSink(tmp_path / "audit")]
    for s in sinks:
        await s.open()
    hubs = [await _started(_hub(redis_url, s, gap_wait_s=0.5)) for s in sinks]
    try:
        seen: list[list[int]] = [[], []]
        readers = [  # read as it comes: a watcher must not fall behind here
            asyncio.create_task(_collect(h.subscribe(), 1_000_000, got))
            for h, got in zip(hubs, seen, strict=True)
        ]
        stored: list[int] = []

        async def worker(i: int) -> None:
            loop = asyncio.get_running_loop()
            end, n = loop.time() + 5.0, 0
            while loop.time() < end:
                records = await _append(sinks[i], 10_000 * i + n, 1)
                stored.extend(r.seq for r in records)
                hubs[i].publish(records)
                n += 1
                await asyncio.sleep(0.002)

        await asyncio.gather(worker(0), worker(1))

        async def all_heard() -> bool:
            for reader in readers:
                if reader.done():
                    reader.result()  # a watcher cut off: say why, at once
            return all(len(got) >= len(stored) for got in seen)

        await await_until(all_heard, timeout_s=LONG, what="every record at both watchers")
        for reader in readers:
            reader.cancel()
        assert seen == [sorted(stored), sorted(stored)]
        assert sum(s.ranges for s in sinks) <= 2, "records in flight were read from the sink"
    finally:
        for h in hubs:
            await h.aclose()
        for s in sinks:
            await s.aclose()


async def test_redis_down_cuts_watchers_off_and_publishing_never_blocks(
    tmp_path: Path, private_redis: RedisServer
) -> None:
    sinks = [await _sink(tmp_path / "audit"), await _sink(tmp_path / "audit")]
    hubs = [await _started(_hub(private_redis.url, sink)) for sink in sinks]
    try:
        sub = aiter(hubs[0].subscribe())
        hubs[1].publish(await _append(sinks[1], 0, 1))
        seen: list[int] = []
        await asyncio.wait_for(_collect(sub, 1, seen), LONG)

        private_redis.kill()
        with pytest.raises(AuditWatchInterruptedError, match="lost"):
            await asyncio.wait_for(_collect(sub, 2, seen), LONG)
        assert seen == [1]
        with pytest.raises(AuditWatchInterruptedError, match="Redis unavailable"):
            hubs[0].subscribe()  # refused while the feed is down, not half-served
        for n in range(3):  # the writer hands records over; nothing raises or waits
            hubs[1].publish(await _append(sinks[1], 1 + n, 1))

        private_redis.start()

        async def both_up() -> bool:
            return all(hub.up for hub in hubs)

        await await_until(both_up, timeout_s=LONG, what="resubscribed after the restart")
        again = hubs[0].subscribe()
        hubs[1].publish(await _append(sinks[1], 4, 1))
        fresh: list[int] = []
        await asyncio.wait_for(_collect(again, 1, fresh), LONG)
        assert fresh == [5]  # what was written after it subscribed; the rest is in List
    finally:
        for hub in hubs:
            await hub.aclose()
        for sink in sinks:
            await sink.aclose()


async def test_a_full_publish_queue_is_logged_once_per_run(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    sink = await _sink(tmp_path / "audit")
    channel = RedisChannel.connect(CHANNEL, url=redis_url, cluster_nodes=(), timeout_s=2.0)
    hub = await _started(SharedFanout(channel, sink, outbox_size=2))
    try:
        caplog.set_level(logging.WARNING, logger="novaos.audit")
        records = await _append(sink, 0, 1)
        for _ in range(50):  # the sender never runs in between: Redis as good as stalled
            hub.publish(records)
        full = [r for r in caplog.records if "publish queue full" in r.getMessage()]
        assert len(full) == 1

        async def drained() -> bool:
            return hub._outbox.empty()

        await await_until(drained, what="the publish queue to drain")
        hub.publish(records)
        again = [r.getMessage() for r in caplog.records if "room again" in r.getMessage()]
        assert again == [
            "audit watch: publish queue has room again; 48 records were not published "
            "(other workers read them from the log)"
        ]
    finally:
        await hub.aclose()
        await sink.aclose()


async def test_closing_ends_watchers_and_stops_the_tasks(tmp_path: Path, redis_url: str) -> None:
    sink = await _sink(tmp_path / "audit")
    hub = await _started(_hub(redis_url, sink))
    sub = hub.subscribe()
    tasks = {t for t in asyncio.all_tasks() if t.get_name().startswith("audit-watch-")}
    assert len(tasks) == 3
    await hub.aclose()
    assert [r async for r in sub] == []  # ended cleanly, no error
    assert all(t.done() for t in tasks)
    assert hub.watchers == 0
    await sink.aclose()


@pytest.mark.parametrize("turns", range(8))
async def test_closing_right_after_a_cut_still_stops_the_tasks(
    tmp_path: Path, redis_url: str, turns: int
) -> None:
    # Redis lost, then SIGTERM: the cut wakes the mending task just as the close
    # cancels it. Under Python 3.11 asyncio.wait_for returned the finished wait
    # and dropped that cancel, so the task mended on for ever and the worker's
    # drain (and a CI run) hung in aclose. Each case puts the cut a loop turn
    # later into the close.
    sink = await _sink(tmp_path / "audit")
    hub = await _started(_hub(redis_url, sink))
    tasks = {t for t in asyncio.all_tasks() if t.get_name().startswith("audit-watch-")}
    closing = asyncio.create_task(hub.aclose())
    for _ in range(turns):
        await asyncio.sleep(0)
    hub._interrupt("the feed of other workers' records was lost (test)")  # what a lost feed does
    try:
        done, _ = await asyncio.wait({closing}, timeout=10)  # cancels nothing
        assert closing in done, "aclose hung"
        assert all(t.done() for t in tasks)
    finally:
        for task in (*tasks, closing):
            task.cancel()
        await sink.aclose()
