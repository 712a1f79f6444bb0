"""JSON Lines files under AUDIT_FILE_PATH, rotated by size, chain kept across files.

Files are named ``audit-<first seq>.log`` (one JSON object per line) so a range
read can skip whole files, and so the operations guide's
``grep … /var/log/novaos/audit/*.log`` finds them. Earlier versions wrote
``audit-<first seq>.jsonl``: such files are still read, in seq order with the
new ones, but never appended to (the next record starts a ``.log`` file).

A batch is appended under an exclusive ``flock`` (worker processes may
share the directory) and is all-or-nothing: if a write fails (disk full) the
touched files are cut back to where they were, so a failed append never
leaves half a record behind. At start the newest file's torn tail is cut off
and the chain head is read back from the last whole record; so is a torn tail
found under the lock later (a worker sharing the directory killed mid-write). Records whose ids
the log holds already (a batch the writer gave up on but the thread still
wrote, spilled and replayed) are skipped, as the PostgreSQL sink skips them.
"""

from __future__ import annotations

import asyncio
import builtins
import errno
import fcntl
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from novaos.audit.chain import (
    UNKEYED,
    ChainHead,
    ChainKeys,
    chained_onto,
    check_head,
    cut_below,
    sound,
)
from novaos.audit.record import AuditRecord
from novaos.audit.sink import AuditPage, AuditQuery, page_of
from novaos.audit.sinks.jsonl import (
    cut_torn_tail,
    fsync_dir,
    last_stored,
    links_from,
    private_dir,
    read_records,
    repair_tail,
    unwritable,
    write_all,
)
from novaos.errors import AuditSinkUnavailableError

_SUFFIX = ".log"
_LEGACY_SUFFIX = ".jsonl"  # before the guide's *.log
_NAME = re.compile(r"audit-(\d{12})\.(?:log|jsonl)")

_log = logging.getLogger("novaos.audit")
_T = TypeVar("_T")


def _file_name(first_seq: int) -> str:
    return f"audit-{first_seq:012d}{_SUFFIX}"


def _first_seq(path: Path) -> int:
    match = _NAME.fullmatch(path.name)
    assert match is not None  # only _files() hands out paths
    return int(match.group(1))


@dataclass(slots=True)
class _Touched:
    path: Path
    size: int  # size before this batch
    created: bool


@dataclass(slots=True)
class _Breaks:
    """Where a listing found the file's seqs out of order (a deletion, a reordering,
    an insertion: a sink writes seqs one after another), and lines it passed over
    because they no longer parse (an edit)."""

    first: str | None = None
    skipped: int = 0
    gaps: int = 0
    first_unreadable: str | None = None
    unreadable: int = 0

    def unreadable_line(self, where: str) -> None:
        if self.first_unreadable is None:
            self.first_unreadable = where
        self.unreadable += 1

    def warn_unreadable(self, sink: str) -> None:
        if self.first_unreadable is not None:
            # One line per read, naming the first: verify reports the break by seq.
            _log.warning(
                "audit: %s log has a line that does not parse, skipped (%s; %d such lines"
                " in this read): run verify",
                sink, self.first_unreadable, self.unreadable,
            )  # fmt: skip

    def note(self, what: str, seq: int, previous: int) -> None:
        if self.first is None:
            self.first = f"seq {seq} after {previous}"
        if what == "gap":
            self.gaps += 1
        else:
            self.skipped += 1


def _in_sequence(records: Iterator[AuditRecord], breaks: _Breaks) -> Iterator[AuditRecord]:
    """``records`` in rising seq order, passing over lines out of sequence.

    A record that does not follow the one before is kept if the record after it
    comes later still (the chain goes on past a deleted line or a missing file)
    and passed over if that one comes earlier: a lone forged seq must not move
    the page token past the real records after it. A record no later than one
    already listed is passed over too (a swapped line).
    """
    previous = 0
    current = next(records, None)
    while current is not None:
        following = next(records, None)
        seq = current.seq
        if not previous or seq != previous + 1:
            if seq <= previous or (following is not None and following.seq <= seq):
                breaks.note("skip", seq, previous)
                current = following
                continue
            if previous:
                breaks.note("gap", seq, previous)
        yield current
        previous = seq
        current = following


class FileAuditSink:
    name = "file"

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 64 << 20,
        fsync: str = "batch",
        keys: ChainKeys = UNKEYED,
    ) -> None:
        self._dir = directory
        self._keys = keys  # re-chaining onto another process's head seals anew
        self._max_bytes = max_bytes
        self._fsync = fsync
        self._lock = threading.Lock()  # flock does not exclude threads of one process
        self._lock_fd = -1
        # A call the writer stopped awaiting (shutdown's cut) goes on in its thread,
        # holding the flock: the last such call, not aclose, closes the fd then.
        self._calls_lock = threading.Lock()  # never held across I/O
        self._calls = 0
        self._closing = False
        self._current: Path | None = None
        self._size = 0
        self._tail = b""  # the last line of _current as this process wrote or read it
        self._head = ChainHead()
        self._last: AuditRecord | None = None  # the record at ``_head`` (None: empty log)
        self.high = ChainHead()  # see AuditSink: the tail this process knows is stored
        # The head passed its checks at open: only then does ``high`` follow it (a
        # head refused as edited is not a record this process saw stored, and once
        # restored from a backup the restore must not look like a rewritten tail).
        self._accepted = False
        # The hash found at ``high.seq`` once another sound record was there: the tail
        # was cut and written again, which no retry undoes (the workers must restart),
        # so the file is not read back again on every retry under the lock. (A record
        # there that does not match its own hash is an edit, not cached: a restore of
        # it is picked up.)
        self._replaced: str | None = None

    def _write(self, fd: int, data: bytes) -> None:
        """The one place bytes reach a file (tests wrap it to fill the disk)."""
        write_all(fd, data)

    # ---------------------------------------------------------------- start-up

    async def open(self) -> ChainHead:
        return await asyncio.to_thread(self._open_sync)

    def _open_sync(self) -> ChainHead:
        try:
            private_dir(self._dir)
            with self._calls_lock:
                if self._lock_fd < 0:
                    self._lock_fd = os.open(self._dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
                self._closing = False
        except OSError as exc:
            raise unwritable("AUDIT_FILE_PATH", f"audit directory {self._dir}", exc) from None
        with self._locked():
            last = self._recover(repair=True)
            if last is not None:
                check_head(last, self._keys, f"audit file {self._current}")
            self._accepted = True
            self._follow()
            return self._head

    def _files(self) -> builtins.list[Path]:
        """Every audit file, old names included, in chain order."""
        found = [p for p in self._dir.glob("audit-*") if _NAME.fullmatch(p.name)]
        return sorted(found, key=_first_seq)

    def _recover(self, *, repair: bool) -> AuditRecord | None:
        """Re-read the head from disk, under the lock: at start (``repair``: cut a
        torn tail, zeros, check the last record follows), or after another process
        wrote. A torn tail found then is a worker that died mid-write, and is cut
        too: a batch appended onto it would glue its first record to the fragment
        (that record lost, verify broken for good). Returns the last record (None:
        the log is empty)."""
        files = self._files()
        current = files[-1] if files else None
        if current is not None and not repair:
            cut_torn_tail(current)
        head, last, tail = ChainHead(), None, b""
        for path in reversed(files):  # a line that does not parse raises: nothing is set
            if repair and path == current:
                last = repair_tail(path)
                line = last.line() if last is not None else b""  # as stored (decode_stored)
            else:
                last, line = last_stored(path)
            if last is not None:
                head = ChainHead(last.seq, last.hash)
                tail = line if path == current else b""
                break
        self._current, self._head, self._tail, self._last = current, head, tail, last
        self._size = current.stat().st_size if current is not None else 0
        self._follow()
        return last

    def _follow(self) -> None:
        """Move ``high`` onto the head read now when it grew from the tail this
        process knew (seen stored; not onto a cut), once the sink opened. A record
        no longer found at ``high.seq`` (its old file moved away), or edited there, is
        not another record there: no sign of a cut tail."""
        if not self._accepted or self._head.seq <= self.high.seq:
            return
        if self._stored_at_high() in (self.high.hash, None):
            self.high = self._head

    def _stored_at_high(self) -> str | None:
        """The hash of the record stored at ``high.seq`` now (None: none found there,
        or one that does not match its own hash: edited, not written again)."""
        high = self.high
        if not high.seq:
            return high.hash
        if self._replaced is not None:
            return self._replaced
        digest, holding = self._hash_at(high.seq)
        if digest is None or digest == high.hash:
            return digest
        if not self._sound_at(high.seq, holding):
            return None  # an edit in place: verify reports it; a restore is picked up
        self._replaced = digest
        return digest

    def _hash_at(self, seq: int) -> tuple[str | None, Path | None]:
        """The hash of the record at ``seq`` (not above the head) and the file holding
        it, read back from the tail of that file (its name says so): the cost is the
        records other workers wrote since this one last looked, at most a file."""
        if self._head.seq <= seq:
            return (self._head.hash if self._head.seq == seq else None), self._current
        older = [p for p in self._files() if _first_seq(p) <= seq]
        if not older:
            return None, None
        found = (d for at, _, d in links_from(older[-1], seq) if at == seq)
        return next(found, None), older[-1]

    def _sound_at(self, seq: int, path: Path | None) -> bool:
        """Does the record at ``seq`` in ``path`` match its own hash? (Read only when
        its hash is not the one this process knows: a rewrite or an edit.)"""
        if seq == self._head.seq:
            record = self._last
        else:
            records = read_records(path, unreadable=lambda _: None) if path else iter(())
            record = next((r for r in records if r.seq == seq), None)
        return record is not None and record.seq == seq and sound(record, self._keys)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Thread lock plus ``flock``: one appender across threads and processes."""
        with self._calls_lock:
            if self._lock_fd < 0:
                raise OSError(errno.EBADF, "the audit file sink is closed")
            self._calls += 1
        try:
            with self._lock:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            with self._calls_lock:
                self._calls -= 1
                if self._closing and not self._calls:
                    self._close_lock_fd()

    # ---------------------------------------------------------------- writes

    async def append(self, records: Sequence[AuditRecord]) -> builtins.list[AuditRecord]:
        if not records:
            return []
        return await asyncio.to_thread(self._append_sync, records)

    def _append_sync(self, records: Sequence[AuditRecord]) -> builtins.list[AuditRecord]:
        with self._locked():
            if self._moved():  # another worker appended, or the tail was cut
                self._recover(repair=False)
            cut_below(self._head, self.high, self._stored_at_high(), self.name)
            if self._head.seq == self.high.seq and self._head.hash != self.high.hash:
                # The last record, this process's, edited in place (a rewrite raised
                # above): chaining onto it would seal the edit in; its restore would not.
                assert self._last is not None
                check_head(self._last, self._keys, f"audit file {self._current}")
            held = self._held_ids(records)
            stored = [r for r in records if r.id not in held]
            if not stored:
                return []
            stored = chained_onto(stored, self._head, self._keys)
            touched: builtins.list[_Touched] = []
            try:
                self._write_batch(stored, touched)
            except BaseException:
                self._undo(touched)
                raise
            self._head = self.high = ChainHead(stored[-1].seq, stored[-1].hash)
            self._last = stored[-1]
            return stored

    def _held_ids(self, records: Sequence[AuditRecord]) -> set[str]:
        """Ids of ``records`` the log holds already: a batch the writer gave up on
        (a timeout, shutdown's cut) whose thread still wrote it, then spilled and
        replayed. A record is stored at the seq it was sealed with or, re-chained
        onto another worker's records, a later one: only the tail from the batch's
        first seq is read, nothing while the batch follows the head."""
        first = min(r.seq for r in records)
        if self._head.seq < first:
            return set()
        wanted = {r.id for r in records}
        held: set[str] = set()
        for path in reversed(self._files()):
            for seq, record_id, _ in links_from(path, first):
                if seq < first:
                    return held
                if record_id in wanted:
                    held.add(record_id)
        return held

    def _moved(self) -> bool:
        """Another worker appended, or the tail was cut: a new last file, another
        size, or, the size unchanged, another last record (a cut line written again
        by a worker that never saw it: a record takes as many bytes as the next)."""
        files = self._files()
        latest = files[-1] if files else None
        if latest != self._current:
            return True
        if latest is None:
            return False
        if latest.stat().st_size != self._size or not self._size:
            return True
        return not self._ends_in_tail(latest)

    def _ends_in_tail(self, path: Path) -> bool:
        """Does ``path`` (its size unchanged) still end in the line this process last
        wrote or read there? The bytes are compared, not decoded: this runs before
        every append."""
        tail = self._tail
        if not tail or len(tail) > self._size:
            return False
        start = self._size - len(tail)
        if start:  # and a line ends right before it: the whole line, not its end
            tail, start = b"\n" + tail, start - 1
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.pread(fd, len(tail), start) == tail
        finally:
            os.close(fd)

    def _write_batch(
        self, records: Sequence[AuditRecord], touched: builtins.list[_Touched]
    ) -> None:
        pending = bytearray()
        fd = -1
        try:
            for record in records:
                line = record.line()
                full = self._size and self._size + len(line) > self._max_bytes
                if self._current is None or full or self._current.suffix == _LEGACY_SUFFIX:
                    if fd >= 0:
                        self._flush(fd, pending)
                        os.close(fd)
                    self._rotate(record.seq, touched)
                    fd = -1
                if fd < 0:
                    fd = self._open_current(touched)
                pending += line
                self._size += len(line)
                self._tail = line
                if self._fsync == "always":
                    self._flush(fd, pending)
            if fd >= 0:
                self._flush(fd, pending)
        finally:
            if fd >= 0:
                os.close(fd)

    def _open_current(self, touched: builtins.list[_Touched]) -> int:
        assert self._current is not None
        if not any(t.path == self._current for t in touched):
            touched.append(_Touched(self._current, self._size, created=False))
        return os.open(self._current, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _rotate(self, first_seq: int, touched: builtins.list[_Touched]) -> None:
        self._current = self._dir / _file_name(first_seq)
        self._size = 0
        fd = os.open(self._current, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        touched.append(_Touched(self._current, 0, created=True))
        if self._fsync != "never":
            fsync_dir(self._dir)

    def _flush(self, fd: int, pending: bytearray) -> None:
        if pending:
            self._write(fd, bytes(pending))
            pending.clear()
        if self._fsync != "never":
            os.fsync(fd)

    def _undo(self, touched: builtins.list[_Touched]) -> None:
        """Cut every file this batch touched back to its size before it."""
        for entry in reversed(touched):
            if entry.created:
                entry.path.unlink(missing_ok=True)
            else:
                os.truncate(entry.path, entry.size)
        self._recover(repair=False)

    # ---------------------------------------------------------------- reads

    def _scan(
        self, from_seq: int = 0, unreadable: Callable[[str], None] | None = None
    ) -> Iterator[AuditRecord]:
        """Records from the file holding ``from_seq`` on. A line that does not
        parse raises ``ValueError`` or, given ``unreadable``, is passed over."""
        files = self._files()
        for index, path in enumerate(files):
            following = files[index + 1] if index + 1 < len(files) else None
            if following is not None and _first_seq(following) <= from_seq:
                continue  # every record in ``path`` is older than from_seq
            yield from read_records(path, unreadable=unreadable)

    def _scan_start(self, from_seq: int) -> int:
        """The first seq of the file ``_scan(from_seq)`` starts reading (1: none)."""
        starts = [_first_seq(p) for p in self._files()]
        return max((s for s in starts if s <= from_seq), default=min(starts, default=1))

    async def _read(self, read: Callable[[], _T]) -> _T:
        """``read`` in a worker thread. A disk or file system failing under it (EIO,
        a lost network mount) is an outage, not a bug: the caller gets
        ``AuditSinkUnavailableError`` (UNAVAILABLE, retryable), the log one line.
        A line that does not parse stays a ``ValueError`` for verify (which reports
        it); listings and get pass over it with a warning."""
        try:
            return await asyncio.to_thread(read)
        except OSError as exc:
            _log.warning("audit: file read failed: %s", exc)
            raise AuditSinkUnavailableError("audit files unreadable; try again later") from exc

    async def list(self, query: AuditQuery) -> AuditPage:
        return await self._read(lambda: self._list_sync(query))

    def _list_sync(self, query: AuditQuery) -> AuditPage:
        matches: builtins.list[AuditRecord] = []
        breaks = _Breaks()
        scan = self._scan(query.after_seq + 1, breaks.unreadable_line)
        for record in _in_sequence(scan, breaks):
            if record.seq <= query.after_seq:
                continue
            if query.matches(record):
                matches.append(record)
                if len(matches) > query.limit:
                    break
        if breaks.first is not None:
            # One line per listing, not one per record: verify names the break.
            _log.warning(
                "audit: %s chain out of sequence (%s; %d skipped, %d gaps in this listing):"
                " run verify",
                self.name, breaks.first, breaks.skipped, breaks.gaps,
            )  # fmt: skip
        breaks.warn_unreadable(self.name)
        return page_of(matches, query.limit)

    async def get(self, record_id: str) -> AuditRecord | None:
        return await self._read(lambda: self._get_sync(record_id))

    def _get_sync(self, record_id: str) -> AuditRecord | None:
        breaks = _Breaks()
        found = next((r for r in self._scan(0, breaks.unreadable_line) if r.id == record_id), None)
        breaks.warn_unreadable(self.name)
        return found

    async def range(
        self, from_seq: int, to_seq: int, *, limit: int = 1000
    ) -> builtins.list[AuditRecord]:
        def collect() -> builtins.list[AuditRecord]:
            # From the first record in range on, up to the record at to_seq, a line
            # out of sequence is returned too (a forged or edited seq), so that verify
            # sees it and fails; a filter on the seq alone would have passed over it.
            found: builtins.list[AuditRecord] = []
            expected: int | None = None
            unreadable: builtins.list[str] = []  # a line that does not parse, not yet placed
            previous = self._scan_start(from_seq) - 1  # the record read before a line
            for record in self._scan(from_seq, unreadable.append):
                if expected is not None and expected > to_seq:
                    break  # the range is whole: what follows it is a later range's to judge
                if unreadable:
                    # Between ``previous`` and ``record``: in range (verify must see it)
                    # unless both come before it. Right after from_seq - 1 it sits in
                    # the link into the range: an inserted line, not an earlier one.
                    if expected is not None or record.seq > from_seq or previous >= from_seq - 1:
                        break
                    unreadable.clear()
                previous = record.seq
                if expected is None:
                    if not from_seq <= record.seq <= to_seq:
                        continue
                    expected = record.seq  # the first record in range
                if record.seq == expected:
                    expected += 1
                found.append(record)  # in sequence, or out of it (verify flags that)
                if len(found) >= limit:
                    break
            # A line that does not parse: the records before it first, so the next
            # page starts at it and verify names its seq, not the page's.
            if unreadable and not found:
                raise ValueError(f"{unreadable[0]} (after record {previous})")
            return found

        return await self._read(collect)

    async def head(self) -> ChainHead:
        """The chain's last record, as on disk: another worker sharing the directory
        may have appended since this one last wrote (verify reads up to here, so a
        cached head left the other workers' newer records, tampered or not, unread)."""
        return await self._read(self._head_sync)

    def _head_sync(self) -> ChainHead:
        with self._locked():
            if self._moved():
                self._recover(repair=False)
            return self._head

    async def aclose(self) -> None:
        """Close the lock file, or leave that to the call still in a thread: closing
        it under that call would drop its flock mid-append (and its unlock would
        hit a closed or reused fd). Never waits: that thread may hang on the disk."""
        with self._calls_lock:
            self._closing = True
            if not self._calls:
                self._close_lock_fd()

    def _close_lock_fd(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
