"""File sink on real files: rotation keeps the chain, crash and full-disk safety."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from novaos.audit.chain import UNKEYED, ChainHead, ChainKeys, seal_all, verify
from novaos.audit.reader import AuditReader
from novaos.audit.record import AuditRecord, build_record
from novaos.audit.sink import AuditQuery, encode_page_token
from novaos.audit.sinks.file import FileAuditSink
from novaos.audit.sinks.jsonl import read_records
from novaos.audit.writer import AuditWriter
from novaos.errors import AuditSinkUnavailableError
from tests.fixtures.audit_data import POLICY, summary
from tests.fixtures.common import await_until, wait_until

ROOT = Path(__file__).resolve().parents[3]


async def _true(value: bool) -> bool:
    return value


def _lines(directory: Path) -> list[bytes]:
    data = b"".join(p.read_bytes() for p in sorted(directory.glob("audit-*.log")))
    return data.splitlines(keepends=True)


def _drafts(start: int, count: int) -> list[AuditRecord]:
    return [
        build_record(summary(i), POLICY, ended_unix=1_700_000_000 + i)
        for i in range(start, start + count)
    ]


async def test_rotation_keeps_the_chain_across_files(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    sink = FileAuditSink(directory, max_bytes=2048, fsync="always")
    head = await sink.open()
    for start in range(0, 60, 7):
        stored = await sink.append(seal_all(_drafts(start, 7), head))
        head = ChainHead(stored[-1].seq, stored[-1].hash)
    files = sorted(directory.glob("audit-*.log"))
    assert len(files) > 5 and all(f.stat().st_size <= 2048 for f in files)
    assert files[0].name == "audit-000000000001.log"
    assert (await AuditReader(sink).verify()).checked == 63
    assert [r.seq for r in await sink.range(40, 45)] == [40, 41, 42, 43, 44, 45]
    await sink.aclose()

    again = FileAuditSink(directory, max_bytes=2048)
    assert await again.open() == head
    await again.append(seal_all(_drafts(100, 3), head))
    result = await AuditReader(again).verify()
    assert (result.ok, result.checked) == (True, 66)
    await again.aclose()


async def _five_closed(
    directory: Path, keys: ChainKeys = UNKEYED
) -> tuple[list[AuditRecord], Path]:
    """Five records written to a new file sink, closed: (the records, its one file)."""
    sink = FileAuditSink(directory, keys=keys)
    stored = await sink.append(seal_all(_drafts(0, 5), await sink.open(), keys))
    await sink.aclose()
    return stored, _the_log(directory)


def _the_log(directory: Path) -> Path:
    (path,) = directory.glob("audit-*.log")
    return path


async def test_a_torn_last_line_is_cut_at_start(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    stored, path = await _five_closed(directory)
    whole = path.read_bytes()
    with path.open("ab") as handle:
        handle.write(stored[0].line()[:57])  # a crash in the middle of a write

    again = FileAuditSink(directory)
    assert await again.open() == ChainHead(5, stored[-1].hash)
    assert path.read_bytes() == whole
    await again.append(seal_all(_drafts(5, 2), ChainHead(5, stored[-1].hash)))
    assert (await AuditReader(again).verify()).checked == 7
    await again.aclose()


@pytest.mark.parametrize("keys", [UNKEYED, ChainKeys.of(b"k" * 32)], ids=["unkeyed", "keyed"])
async def test_a_last_record_missing_only_its_newline_is_kept_at_start(
    tmp_path: Path, keys: ChainKeys
) -> None:
    # A restore or copy that dropped the final line break: the record was cut
    # as torn at start, and verify then said ok over the shorter log.
    directory = tmp_path / "audit"
    stored, path = await _five_closed(directory, keys)
    whole = path.read_bytes()
    path.write_bytes(whole[:-1])

    again = FileAuditSink(directory, keys=keys)
    head = ChainHead(5, stored[-1].hash)
    assert await again.open() == head
    assert path.read_bytes() == whole  # the newline put back, nothing cut
    await again.append(seal_all(_drafts(5, 2), head, keys))
    result = await AuditReader(again, keys=keys).verify()
    assert (result.ok, result.checked) == (True, 7), result
    await again.aclose()


async def _open_error(sink: FileAuditSink) -> str:
    try:
        await sink.open()
    except ValueError as exc:
        return str(exc)
    raise AssertionError("the sink opened")


def _edited(record: AuditRecord) -> bytes:
    """``record``'s line with one field changed and the hash kept, no newline."""
    data = json.loads(record.line())
    data["duration_ms"] += 1
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


@pytest.mark.parametrize("fault", ["key not held", "edited", "copied"])
async def test_a_whole_last_record_that_does_not_verify_stops_the_sink_with_or_without_newline(
    tmp_path: Path, fault: str
) -> None:
    # Missing its newline, such a record was cut as torn (silently: the record
    # and the evidence gone) while the same record with its newline stopped the
    # sink. Half a line never parses as a record, so a whole one is kept either
    # way, and stops the sink either way with the same error. "key not held":
    # AUDIT_CHAIN_KEY mistyped at start, or the old key left out of
    # AUDIT_CHAIN_PREVIOUS_KEYS after a rotation. "copied": an earlier record
    # at the end would be the head, and new records would reuse seqs 4 and 5.
    keys = ChainKeys.of(b"k" * 24 + b"12345678")
    reopen_keys = ChainKeys.of(b"m" * 24 + b"87654321") if fault == "key not held" else keys
    errors = []
    for ending in ("terminated", "unended"):
        directory = tmp_path / ending
        stored, path = await _five_closed(directory, keys)
        if fault == "edited":
            lines = path.read_bytes().splitlines(keepends=True)
            path.write_bytes(b"".join(lines[:-1]) + _edited(stored[-1]) + b"\n")
        elif fault == "copied":
            path.write_bytes(path.read_bytes() + stored[2].line())
        whole = path.read_bytes()
        if ending == "unended":
            path.write_bytes(whole[:-1])
        errors.append(await _open_error(FileAuditSink(directory, keys=reopen_keys)))
        assert path.read_bytes() == whole  # kept, newline and all: nothing cut
    assert errors[0].replace("terminated", "unended") == errors[1], errors
    assert ("record, 3," if fault == "copied" else "last record, 5,") in errors[0]


async def test_files_from_before_the_rename_are_read_and_verified_with_new_ones(
    tmp_path: Path,
) -> None:
    # Earlier versions named the files audit-<seq>.jsonl; an upgraded gateway
    # finds them in its directory and must carry on the same chain after them.
    directory = tmp_path / "audit"
    directory.mkdir()
    old = seal_all(_drafts(0, 12), ChainHead())
    (directory / "audit-000000000001.jsonl").write_bytes(b"".join(r.line() for r in old[:11]))
    # the newest old file has room left: appending there would hide records from *.log
    (directory / "audit-000000000012.jsonl").write_bytes(old[11].line())
    legacy = {p.name: p.read_bytes() for p in directory.glob("audit-*")}

    sink = FileAuditSink(directory, max_bytes=4096)
    head = await sink.open()
    assert head == ChainHead(12, old[-1].hash)
    for start in range(100, 130, 6):
        stored = await sink.append(seal_all(_drafts(start, 6), head))
        head = ChainHead(stored[-1].seq, stored[-1].hash)
    # New records go to new files only; the old ones stay as they were.
    assert {p.name: p.read_bytes() for p in directory.glob("audit-*.jsonl")} == legacy
    new = sorted(directory.glob("audit-*.log"))
    assert new[0].name == "audit-000000000013.log" and len(new) > 1
    result = await AuditReader(sink).verify()
    assert (result.ok, result.checked) == (True, 42)
    assert [r.seq for r in await sink.range(5, 15)] == list(range(5, 16))
    page = await sink.list(AuditQuery(limit=100))
    assert [r.seq for r in page.records] == list(range(1, 43))
    assert await sink.get(old[8].id) == old[8]
    await sink.aclose()

    again = FileAuditSink(directory)
    assert await again.open() == head
    assert (await AuditReader(again).verify()).checked == 42
    await again.aclose()


class FullDiskFileSink(FileAuditSink):
    """A file sink on a disk with ``free`` bytes left: past it a write puts
    down what fits and then fails with ENOSPC, as a real full disk does."""

    free = 0

    def _write(self, fd: int, data: bytes) -> None:
        if len(data) > self.free:
            os.write(fd, data[: self.free])
            self.free = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        super()._write(fd, data)
        self.free -= len(data)


async def test_full_disk_spills_then_replays(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    sink = FullDiskFileSink(directory, max_bytes=1 << 20, fsync="batch")
    sink.free = 30_000  # room for a few dozen records
    writer = AuditWriter(
        sink,
        POLICY,
        spill_path=tmp_path / "spill" / "spill.jsonl",
        batch_size=20,
        max_backoff_s=0.05,
    )
    await writer.start()
    order: list[str] = []
    for i in range(200):
        await writer.record(summary(i))
        order.append(f"req-{i:05d}")
    await await_until(lambda: _true(writer.status().spilled > 0), what="disk full -> spill")
    assert writer.status().status == "spilling"
    lines = _lines(directory)
    assert 0 < len(lines) < 200
    assert all(line.endswith(b"\n") and json.loads(line) for line in lines)  # nothing half-written

    sink.free = 10**9  # space freed
    for i in range(200, 250):
        await writer.record(summary(i))
        order.append(f"req-{i:05d}")
    await await_until(
        lambda: _true(writer.status().written == 250 and writer.status().spilled == 0),
        what="replay",
    )
    await writer.aclose(close_sink=False)
    stored = [json.loads(line)["request_id"] for line in _lines(directory)]
    assert stored == order
    result = await AuditReader(sink).verify()
    assert (result.ok, result.checked) == (True, 250)
    await sink.aclose()


@pytest.mark.parametrize("keys", [UNKEYED, ChainKeys.of(b"k" * 32)], ids=["plain", "keyed"])
async def test_two_processes_sharing_a_directory_share_one_chain(
    tmp_path: Path, keys: ChainKeys
) -> None:
    directory = tmp_path / "audit"
    writers = [
        AuditWriter(
            FileAuditSink(directory, max_bytes=4096, keys=keys),
            POLICY,
            spill_path=tmp_path / f"spill-{n}.jsonl",
            batch_size=5,
            keys=keys,
        )
        for n in range(2)
    ]
    for writer in writers:
        await writer.start()

    async def produce(writer: AuditWriter, base: int) -> None:
        for i in range(base, base + 60):
            await writer.record(summary(i))
            await asyncio.sleep(0)

    await asyncio.gather(*(produce(w, 1000 * n) for n, w in enumerate(writers)))
    for writer in writers:
        await writer.aclose()
    records = [json.loads(line) for line in _lines(directory)]
    assert len(records) == 120 and len({r["request_id"] for r in records}) == 120
    # Records re-chained onto the other process's head are sealed with the key too.
    assert {bool(r.get("key_id")) for r in records} == {keys.keyed}
    reader_sink = FileAuditSink(directory, keys=keys)  # a sink opens onto a head it verifies
    await reader_sink.open()
    result = await AuditReader(reader_sink, keys=keys).verify()
    assert (result.ok, result.checked, result.unkeyed) == (True, 120, 0 if keys.keyed else 120)
    await reader_sink.aclose()


_KILLED_WRITER = """
import asyncio, os, sys
from pathlib import Path
from novaos.audit.chain import ChainHead, seal_all
from novaos.audit.record import AuditPolicy, build_record
from novaos.audit.sinks.file import FileAuditSink
from novaos.redaction import Pseudonymizer
from tests.fixtures.audit_data import summary

class ShortWrites(FileAuditSink):
    # A device that takes 4 KiB per write(): a kill often lands between them.
    def _write(self, fd, data):
        for start in range(0, len(data), 4096):
            os.write(fd, data[start:start + 4096])

async def main():
    sink = ShortWrites(Path(sys.argv[1]), max_bytes=4 << 20, fsync="never")
    head = await sink.open()
    policy = AuditPolicy(include_content=True, pseudonymize=Pseudonymizer(b"k"))
    i = 0
    while True:  # big batches of big records: a kill lands mid-write
        drafts = [build_record(summary(i + k, prompt="x" * 20000), policy, ended_unix=i + k)
                  for k in range(40)]
        stored = await sink.append(seal_all(drafts, head))
        head = ChainHead(stored[-1].seq, stored[-1].hash)
        i += 40

asyncio.run(main())
"""


def _mid_write(directory: Path) -> bool:
    files = sorted(directory.glob("audit-*.log"))
    if not files or sum(f.stat().st_size for f in files) < 1_000_000:
        return False
    with files[-1].open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def test_sigkill_mid_write_leaves_only_whole_records(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(directory)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        # Kill while a batch is half on disk (the file does not end in a newline).
        wait_until(lambda: _mid_write(directory), timeout_s=60, what="a write in progress")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    before = len(_lines(directory))

    async def recover() -> None:
        sink = FileAuditSink(directory)
        head = await sink.open()
        lines = _lines(directory)
        assert all(line.endswith(b"\n") for line in lines)
        assert len(lines) in (before, before - 1)  # at most the torn one went
        assert head.seq == len(lines) >= 40  # the 1 MB trigger means at least one 40-record batch
        records = await sink.range(1, head.seq, limit=head.seq)
        assert verify(records).ok
        await sink.aclose()

    asyncio.run(recover())


class _SwitchableSink(FileAuditSink):
    """A file sink that can be made to refuse opens and writes (a sink outage)."""

    down = False

    async def open(self) -> ChainHead:
        if self.down:
            raise ConnectionError("sink down")
        return await super().open()

    async def append(self, records: list[AuditRecord]) -> list[AuditRecord]:  # type: ignore[override]
        if self.down:
            raise ConnectionError("sink down")
        return await super().append(records)


async def test_a_restart_with_a_spill_and_the_sink_down_keeps_one_chain(tmp_path: Path) -> None:
    # The last run spilled records sealed on the sink's head, then stopped. This
    # one starts with the sink still down, so it seals its own records from zero;
    # the replay joins both in one batch, which must be re-sealed as a whole.
    directory, spill = tmp_path / "audit", tmp_path / "spill" / "spill.jsonl"
    first = FileAuditSink(directory)
    stored = await first.append(seal_all(_drafts(0, 10), await first.open()))
    await first.aclose()
    spill.parent.mkdir()
    spilled = seal_all(_drafts(100, 5), ChainHead(stored[-1].seq, stored[-1].hash))
    spill.write_bytes(b"".join(r.line() for r in spilled))

    sink = _SwitchableSink(directory)
    sink.down = True
    writer = AuditWriter(sink, POLICY, spill_path=spill, max_backoff_s=0.05)
    await writer.start()
    for i in range(200, 203):
        await writer.record(summary(i))
    await await_until(lambda: _true(writer.status().spilled == 8), what="8 records spilled")
    sink.down = False
    await await_until(lambda: _true(writer.status().written == 8), what="the spill replayed")
    await writer.aclose(close_sink=False)
    seqs = [json.loads(line)["seq"] for line in _lines(directory)]
    assert seqs == list(range(1, 19))
    result = await AuditReader(sink).verify()
    assert (result.ok, result.checked) == (True, 18)
    await sink.aclose()


class _HungDiskSink(FileAuditSink):
    """A file sink whose writes block until ``release`` is set: a disk that hangs."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.writing = threading.Event()
        self.release = threading.Event()

    def _write(self, fd: int, data: bytes) -> None:
        self.writing.set()
        self.release.wait(30)
        super()._write(fd, data)


def _lock_is_free(directory: Path) -> bool:
    fd = os.open(directory / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases the flock, if taken
    return True


async def test_a_batch_cut_at_shutdown_but_written_by_its_thread_is_not_replayed_twice(
    tmp_path: Path,
) -> None:
    # The shutdown's cut stops awaiting the append, and the writer spills its batch;
    # the append's thread still writes it. Another worker then appended, so the head
    # is not the spill's last record: the next start replayed the whole batch again,
    # under new seqs. Closing the sink also closed the lock fd under that thread.
    directory, spill = tmp_path / "audit", tmp_path / "spill.jsonl"
    sink = _HungDiskSink(directory)
    writer = AuditWriter(sink, POLICY, spill_path=spill, batch_size=10)
    await writer.start()
    for i in range(3):
        await writer.record(summary(i))
    await asyncio.to_thread(sink.writing.wait, 10)
    await writer.aclose(sink_wait_s=0.1)  # closes the sink too
    assert len(spill.read_bytes().splitlines()) == 3
    assert not _lock_is_free(directory)  # the thread still holds the flock
    sink.release.set()
    await await_until(lambda: _true(_lock_is_free(directory)), what="the append finished")
    await await_until(lambda: _true(sink._lock_fd < 0), what="the lock fd closed")
    assert len(_lines(directory)) == 3

    other = FileAuditSink(directory)  # another worker's record moves the head
    await other.append(seal_all(_drafts(50, 1), await other.open()))
    await other.aclose()
    again = AuditWriter(FileAuditSink(directory), POLICY, spill_path=spill)
    await again.start()  # replays the spill
    await again.record(summary(7))
    await again.aclose()
    records = [json.loads(line) for line in _lines(directory)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert [r["request_id"] for r in records] == [f"req-{i:05d}" for i in (0, 1, 2, 50, 7)]


async def test_each_worker_verifies_the_whole_shared_chain_and_finds_an_edit(
    tmp_path: Path,
) -> None:
    # Two workers share the directory. Verify read up to the asking worker's own
    # cached head, so half the verifies missed the other worker's newer records and
    # an edit to one of them answered ok (found with WORKERS=2).
    directory = tmp_path / "audit"
    sinks = [FileAuditSink(directory), FileAuditSink(directory)]
    for sink in sinks:
        await sink.open()
    head = ChainHead()
    for n in range(6):  # alternate writers, as the kernel spreads calls over workers
        stored = await sinks[n % 2].append(seal_all(_drafts(10 * n, 2), head))
        head = ChainHead(stored[-1].seq, stored[-1].hash)
    for sink in sinks:
        assert (await AuditReader(sink).verify()).checked == 12
    last = sorted(directory.glob("audit-*.log"))[-1]
    lines = last.read_bytes().splitlines(keepends=True)
    edited = json.loads(lines[-1])
    edited["duration_ms"] += 1  # a quiet edit: the hash no longer matches
    lines[-1] = json.dumps(edited, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    last.write_bytes(b"".join(lines))
    for sink in sinks:  # the first one wrote the edited record's predecessor, not it
        assert not (await AuditReader(sink).verify()).ok
    for sink in sinks:
        await sink.aclose()


def _tear_under_the_lock(directory: Path, fragment: bytes) -> None:
    """What a worker SIGKILLed mid-write leaves: part of a line, written under the
    sink's flock, which the kernel then released."""
    with (directory / ".lock").open("rb+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with sorted(directory.glob("audit-*.log"))[-1].open("ab") as log:
            log.write(fragment)
        fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.mark.parametrize("first", ["append", "head"])
async def test_a_torn_tail_left_by_a_dead_worker_is_cut_before_the_next_append(
    tmp_path: Path, first: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Found by a tester with WORKERS=2: the surviving worker saw the file grow, read
    # the head back and appended its batch right after the dead worker's fragment.
    # Its first record was glued on (lost to every read) and verify stayed broken.
    directory = tmp_path / "audit"
    survivor, dead = FileAuditSink(directory), FileAuditSink(directory)
    head = await survivor.open()
    await dead.open()
    stored = await survivor.append(seal_all(_drafts(0, 3), head))
    stored += await dead.append(seal_all(_drafts(3, 2), ChainHead()))
    whole = _the_log(directory).read_bytes()
    torn = seal_all(_drafts(5, 1), ChainHead(5, stored[-1].hash))[0].line()
    _tear_under_the_lock(directory, torn[:300])
    await dead.aclose()

    if first == "head":  # a verify or a watch read the head first
        assert await survivor.head() == ChainHead(5, stored[-1].hash)
    after = await survivor.append(seal_all(_drafts(10, 2), ChainHead()))
    assert [r.seq for r in after] == [6, 7]
    assert _the_log(directory).read_bytes() == whole + b"".join(r.line() for r in after)
    assert "audit: cut 300 torn bytes off audit-000000000001.log" in caplog.text
    page = await survivor.list(AuditQuery(limit=100))
    assert [r.request_id for r in page.records] == [r.request_id for r in stored + after]
    result = await AuditReader(survivor).verify()
    assert (result.ok, result.checked) == (True, 7), result
    await survivor.aclose()


async def _chain_of(directory: Path, count: int) -> FileAuditSink:
    sink = FileAuditSink(directory)
    head = await sink.open()
    await sink.append(seal_all(_drafts(0, count), head))
    return sink


async def test_a_forged_line_out_of_sequence_fails_verify_and_hides_nothing(
    tmp_path: Path,
) -> None:
    # A line with seq 999999999 inserted mid-file passed verify (range() filtered
    # it out by seq), and listing took its seq for the page token: 14 of 20
    # records vanished from the listing.
    directory = tmp_path / "audit"
    sink = await _chain_of(directory, 20)
    path = sorted(directory.glob("audit-*.log"))[-1]
    lines = path.read_bytes().splitlines(keepends=True)
    forged = json.loads(lines[4])
    forged.update(seq=999_999_999, hash="deadbeef", request_id="req-FORGED")
    lines.insert(5, json.dumps(forged, separators=(",", ":"), sort_keys=True).encode() + b"\n")
    path.write_bytes(b"".join(lines))
    result = await AuditReader(sink).verify()
    assert not result.ok, result
    reader, seen, token = AuditReader(sink), [], ""
    while True:
        page = await reader.list(AuditQuery(), page_size=6, page_token=token)
        seen += [r.request_id for r in page.records]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == 20 and "req-FORGED" not in seen, seen
    await sink.aclose()


async def test_a_last_line_edited_past_parsing_is_kept_and_reported_not_cut(
    tmp_path: Path,
) -> None:
    # At the next start it was taken for a torn write and cut off: the edit, and
    # the record, vanished, and verify then said ok.
    directory = tmp_path / "audit"
    sink = await _chain_of(directory, 5)
    await sink.aclose()
    path = sorted(directory.glob("audit-*.log"))[-1]
    edited = path.read_bytes().replace(b'"outcome"', b'"outcomx"')
    path.write_bytes(edited)
    reopened = FileAuditSink(directory)
    try:
        await reopened.open()
        raise AssertionError("opened over an edited record")
    except ValueError as exc:
        assert "does not parse" in str(exc)
    assert path.read_bytes() == edited  # nothing cut
    result = await AuditReader(reopened).verify()
    assert not result.ok and "unreadable" in result.problem
    assert path.name in result.problem  # where to look


def _garble_line(path: Path, index: int) -> None:
    """Cut line ``index`` (0-based) short and append junk: a whole line that does not parse."""
    lines = path.read_bytes().splitlines(keepends=True)
    lines[index] = lines[index][:50] + b"GARBAGE\n"
    path.write_bytes(b"".join(lines))


async def test_an_unreadable_line_hides_only_itself_from_list_and_get(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # List returned the pages before it, then failed (INTERNAL), so one edited line
    # hid every record after it; get failed for every record after it too.
    directory = tmp_path / "audit"
    sink = await _chain_of(directory, 150)
    (path,) = directory.glob("audit-*.log")
    _garble_line(path, 99)  # seq 100
    caplog.set_level(logging.WARNING, logger="novaos.audit")
    rest = [seq for seq in range(1, 151) if seq != 100]
    assert await _listed(sink, AuditQuery(), page_size=50) == rest
    warned = [r.getMessage() for r in caplog.records if "does not parse" in r.getMessage()]
    assert warned and f"{path.name} line 100" in warned[0], warned
    vetoes = await _listed(sink, AuditQuery(outcome="hard_veto"), page_size=7)
    assert vetoes == [seq for seq in rest if seq % 4 == 2]
    last = (await AuditReader(sink).list(AuditQuery(), page_token=encode_page_token(149))).records
    assert (await AuditReader(sink).get(last[0].id)).seq == 150
    result = await AuditReader(sink).verify()  # verify still reports the break
    assert (result.ok, result.first_bad_seq) == (False, 100), result
    assert f"{path.name} line 100" in result.problem
    await sink.aclose()


@pytest.mark.parametrize("after", [10, 0])
async def test_a_line_inserted_between_records_fails_verify_naming_where(
    tmp_path: Path, after: int
) -> None:
    # A non-record line between records 10 and 11 passed verify: reading the page
    # from 11, the line was taken to lie before the range and passed over.
    directory = tmp_path / "audit"
    sink = await _chain_of(directory, 20)
    (path,) = directory.glob("audit-*.log")
    lines = path.read_bytes().splitlines(keepends=True)
    lines.insert(after, b"not json\n")
    path.write_bytes(b"".join(lines))
    reader = AuditReader(sink)
    result = await reader.verify()
    assert (result.ok, result.first_bad_seq, result.checked) == (False, after + 1, after), result
    assert f"{path.name} line {after + 1}" in result.problem
    assert f"after record {after}" in result.problem
    assert not (await reader.verify(after + 1, 0)).ok
    if after:
        assert (await reader.verify(1, after)).ok  # the records before it are fine
    assert len(await _listed(sink, AuditQuery())) == 20  # listings pass over it
    await sink.aclose()


def _zeros(lines: list[bytes]) -> None:
    lines[4] = b"\0" * 20 + b"\n"  # a power loss's block in mid-file


def _cut(lines: list[bytes]) -> None:
    lines[4] = lines[4][:50] + b"\n"


def _empty(lines: list[bytes]) -> None:
    lines.insert(4, b"\n")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [(_zeros, "a line of 20 zero bytes"),
     (_cut, "a line cut short (it ends after 50 characters, before the record does)"),
     (_empty, "an empty line")],
)  # fmt: skip
async def test_a_damaged_line_is_named_plainly_by_verify_and_the_listing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: object, reason: str
) -> None:
    # Found by a tester: json.loads was given the raw line with its newline, so zeros
    # read as "'utf-32-be' codec can't decode", a cut line as "Invalid control
    # character", an empty line as "Expecting value: line 2".
    directory = tmp_path / "audit"
    sink = await _chain_of(directory, 10)
    (path,) = directory.glob("audit-*.log")
    _edit_lines(path, damage)
    result = await AuditReader(sink).verify()
    assert (result.ok, result.first_bad_seq) == (False, 5), result
    assert f"{path.name} line 5: malformed audit record: {reason}" in result.problem, result
    assert "after record 4" in result.problem
    caplog.set_level(logging.WARNING, logger="novaos.audit")
    await _listed(sink, AuditQuery())
    warned = [r.getMessage() for r in caplog.records if "does not parse" in r.getMessage()]
    assert warned and f"{path.name} line 5: malformed audit record: {reason}" in warned[0]
    await sink.aclose()


async def test_a_ranged_verify_past_an_unreadable_line_checks_its_range(tmp_path: Path) -> None:
    # The range (and its anchor) was read from the top of the file, and the line
    # before it that does not parse failed the call (INTERNAL).
    directory = tmp_path / "audit"
    sink = await _chain_of(directory, 150)
    (path,) = directory.glob("audit-*.log")
    _garble_line(path, 99)  # seq 100
    reader = AuditReader(sink)
    for start in (102, 120):
        result = await reader.verify(start, 0)
        assert (result.ok, result.checked) == (True, 151 - start), result
    at = await reader.verify(100, 0)
    assert (at.ok, at.first_bad_seq) == (False, 100), at
    after = await reader.verify(101, 0)  # its anchor is the unreadable record
    assert (after.ok, after.first_bad_seq) == (False, 100), after
    assert f"{path.name} line 100" in after.problem
    assert (await reader.verify(1, 99)).ok
    await sink.aclose()


async def test_verify_counts_the_records_it_checked_before_an_unreadable_line(
    tmp_path: Path,
) -> None:
    # It reported "checked": 0 although the 99 records before the line verified.
    directory = tmp_path / "audit"
    sink = await _chain_of(directory, 150)
    (path,) = directory.glob("audit-*.log")
    _garble_line(path, 99)  # seq 100
    reader = AuditReader(sink)
    whole = await reader.verify()
    assert (whole.ok, whole.first_bad_seq, whole.checked, whole.unkeyed) == (False, 100, 99, 99)
    ranged = await reader.verify(60, 0)
    assert (ranged.ok, ranged.first_bad_seq, ranged.checked) == (False, 100, 40), ranged
    await sink.aclose()


async def test_after_a_restart_an_unreadable_last_line_still_lets_list_read_the_rest(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "audit"
    sink = await _chain_of(directory, 12)
    await sink.aclose()
    (path,) = directory.glob("audit-*.log")
    _garble_line(path, 11)
    garbled = path.read_bytes()
    reopened = FileAuditSink(directory)
    with pytest.raises(ValueError, match="does not parse"):
        await reopened.open()  # nothing to chain onto: records spill, nothing is cut
    assert path.read_bytes() == garbled
    assert await _listed(reopened, AuditQuery()) == list(range(1, 12))
    result = await AuditReader(reopened).verify()
    assert not result.ok and path.name in result.problem
    await reopened.aclose()


async def test_an_unreadable_last_line_is_named_by_its_seq(tmp_path: Path) -> None:
    # verify answered first_bad_seq 0, so the CLI named no seq.
    directory = tmp_path / "audit"
    sink = await _chain_of(directory, 12)
    (path,) = directory.glob("audit-*.log")
    _garble_line(path, 11)
    reader = AuditReader(sink)
    result = await reader.verify()
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 12, 11), result
    assert "unreadable" in result.problem and f"{path.name} line 12" in result.problem
    assert (await reader.verify(1, 11)).ok  # a range before it is fine
    ranged = await reader.verify(5, 0)
    assert (ranged.ok, ranged.first_bad_seq, ranged.checked) == (False, 12, 7), ranged
    await sink.aclose()


async def _listed(sink: FileAuditSink, query: AuditQuery, page_size: int = 5) -> list[int]:
    reader, seqs, token = AuditReader(sink), [], ""
    while True:
        page = await reader.list(query, page_size=page_size, page_token=token)
        seqs += [r.seq for r in page.records]
        token = page.next_page_token
        if not token:
            return seqs


def _edit_lines(path: Path, edit: object) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    edit(lines)  # type: ignore[operator]
    path.write_bytes(b"".join(lines))


def _drop_tenth(lines: list[bytes]) -> None:
    del lines[9]


def _swap_tenth(lines: list[bytes]) -> None:
    lines[9], lines[10] = lines[10], lines[9]


@pytest.mark.parametrize(
    ("edit", "hidden"), [(_drop_tenth, {10}), (_swap_tenth, {11})], ids=["delete", "swap"]
)
async def test_a_deleted_or_swapped_line_hides_only_itself_from_the_listing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, edit: object, hidden: set[int]
) -> None:
    # Listing never moved past the first line out of sequence: a deleted line 10
    # hid seqs 10-32 (one warning each), a swap hid 11-32.
    caplog.set_level(logging.WARNING, logger="novaos.audit")
    directory = tmp_path / "audit"
    sink = await _chain_of(directory, 32)
    _edit_lines(sorted(directory.glob("audit-*.log"))[0], edit)
    assert not (await AuditReader(sink).verify()).ok
    rest = [seq for seq in range(1, 33) if seq not in hidden]
    caplog.clear()
    assert await _listed(sink, AuditQuery(), page_size=500) == rest
    assert len(caplog.records) == 1 and "run verify" in caplog.records[0].getMessage()
    assert await _listed(sink, AuditQuery()) == rest
    vetoes = await _listed(sink, AuditQuery(outcome="hard_veto"))
    assert vetoes == [seq for seq in rest if seq % 4 == 2]
    after_nine = await AuditReader(sink).list(AuditQuery(), page_token=encode_page_token(9))
    assert [r.seq for r in after_nine.records] == [seq for seq in rest if seq > 9]
    await sink.aclose()


async def test_a_missing_middle_file_hides_only_its_own_records(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    sink = FileAuditSink(directory, max_bytes=4000)
    head = await sink.open()
    await sink.append(seal_all(_drafts(0, 32), head))
    files = sorted(directory.glob("audit-*.log"))
    assert len(files) > 3
    gone = {r.seq for r in read_records(files[1])}
    files[1].rename(tmp_path / files[1].name)
    assert await _listed(sink, AuditQuery()) == [s for s in range(1, 33) if s not in gone]
    await sink.aclose()


async def test_after_seq_starts_reading_at_the_file_that_holds_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Files are named by their first seq: a listing after seq N opens the file
    # holding N + 1 and those after it, however many came before.
    directory = tmp_path / "audit"
    sink = FileAuditSink(directory, max_bytes=4000)
    head = await sink.open()
    await sink.append(seal_all(_drafts(0, 40), head))
    files = sorted(directory.glob("audit-*.log"))
    assert len(files) > 3
    start = next(r.seq for r in read_records(files[2]))
    for older in files[:2]:
        older.write_bytes(b"not a record\n")  # a listing that opened it would warn
    with caplog.at_level(logging.WARNING, logger="novaos.audit"):
        assert await _listed(sink, AuditQuery(after_seq=start - 1)) == list(range(start, 41))
        assert await _listed(sink, AuditQuery(after_seq=start + 1)) == list(range(start + 2, 41))
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert await _listed(sink, AuditQuery(after_seq=0)) == list(range(start, 41))
    assert "does not parse" in caplog.text  # as a listing from the start does
    await sink.aclose()


class _DiskFails(FileAuditSink):
    """A disk or network mount that fails reads (EIO) once records are stored."""

    failing = False

    def _files(self) -> list[Path]:
        if self.failing:
            raise OSError(errno.EIO, "Input/output error")
        return super()._files()


async def test_reads_from_a_failing_disk_say_unavailable(tmp_path: Path) -> None:
    # An I/O error is an outage (UNAVAILABLE, retryable), not a bug (INTERNAL).
    sink = _DiskFails(tmp_path / "audit")
    await sink.open()
    drafts = [build_record(summary(i), POLICY, ended_unix=1_700_000_000 + i) for i in range(3)]
    stored = await sink.append(seal_all(drafts, ChainHead()))
    reader = AuditReader(sink)
    assert (await reader.verify()).ok
    sink.failing = True
    with pytest.raises(AuditSinkUnavailableError):
        await reader.list(AuditQuery())
    with pytest.raises(AuditSinkUnavailableError):
        await reader.get(stored[0].id)
    with pytest.raises(AuditSinkUnavailableError):
        await sink.range(1, 3)
    sink.failing = False
    assert [r.id for r in (await reader.list(AuditQuery())).records] == [r.id for r in stored]
    await sink.aclose()


@pytest.mark.parametrize(
    ("field", "value"), [("seq", "10"), ("hash", None), ("time", "yesterday"), ("gates", 5)]
)
async def test_a_field_of_the_wrong_type_is_an_unreadable_record(
    tmp_path: Path, field: str, value: object
) -> None:
    # seq "10" or a null hash made verify and list fail with INTERNAL (a TypeError
    # deep in the chain or the protobuf conversion).
    directory = tmp_path / "audit"
    sink = await _chain_of(directory, 20)
    (path,) = directory.glob("audit-*.log")
    lines = path.read_bytes().splitlines(keepends=True)
    edited = json.loads(lines[9])
    edited[field] = value
    lines[9] = json.dumps(edited).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    result = await AuditReader(sink).verify()
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 10, 9), result
    assert f"{path.name} line 10" in result.problem and field in result.problem
    assert await _listed(sink, AuditQuery()) == [s for s in range(1, 21) if s != 10]
    await sink.aclose()
