"""Fan-out of newly written records to watchers (a SIEM tailing the log).

Each watcher has its own bounded queue. A watcher that falls behind is cut
off with ``AuditWatchLaggedError`` rather than slowing the writer or growing
memory; it resumes with ``ListAuditEvents`` ``after_seq`` = the last seq it saw.

``Fanout`` hands a watcher what this process's writer stored. With several
worker processes on one shared chain, ``SharedFanout`` hands it every worker's
records: each worker publishes what its sink took on a ``Broadcast`` channel
and hears everyone's, puts them in seq order, and reads any it missed back
from the sink (see its docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Protocol

from novaos.audit.chain import UNKEYED, ChainHead, ChainKeys, sound
from novaos.audit.record import AuditRecord, decode
from novaos.audit.sink import AuditSink
from novaos.domain import Keepalive
from novaos.errors import AuditWatchInterruptedError, AuditWatchLaggedError, NovaError
from novaos.ports import Broadcast
from novaos.tasks import cancel_and_wait

_END = None
KEEPALIVE = Keepalive()
_log = logging.getLogger("novaos.audit")


class Subscription:
    """Up to ``maxsize`` records waiting, plus one slot kept for the end marker:
    a watcher that falls behind keeps every record it was sent, in order, up to
    the one that did not fit, so resuming with List after the last seq it saw
    misses nothing; and closing always reaches it, however full its queue."""

    def __init__(self, fanout: Fanout, maxsize: int) -> None:
        self._fanout = fanout
        self._maxsize = maxsize
        self._queue: asyncio.Queue[AuditRecord | None] = asyncio.Queue(maxsize + 1)
        self._ended = False
        self.lagged = False
        self._error: NovaError | None = None

    def offer(self, record: AuditRecord) -> None:
        if self._ended:
            return
        if self._queue.qsize() >= self._maxsize:
            self.lagged = True
            self.end()
            return
        self._queue.put_nowait(record)

    def end(self, error: NovaError | None = None) -> None:
        """No more records; the watcher gets ``error`` after those it was sent."""
        if not self._ended:
            self._ended = True
            self._error = error
            self._queue.put_nowait(_END)  # the kept slot: never full
            self._fanout.unsubscribe(self)  # no longer counted as a watcher

    def close(self) -> None:
        """Stop receiving (a watcher that went away)."""
        self._fanout.unsubscribe(self)

    def __aiter__(self) -> AsyncIterator[AuditRecord]:
        return self._records()

    async def _records(self) -> AsyncIterator[AuditRecord]:
        async with contextlib.aclosing(self.events(None)) as events:
            async for item in events:
                if isinstance(item, AuditRecord):
                    yield item

    async def events(
        self, keepalive_s: float | None
    ) -> AsyncGenerator[AuditRecord | Keepalive, None]:
        """The records, and a ``Keepalive`` after every ``keepalive_s`` without one
        (``None``: never). A keepalive is made here, never queued: it takes no
        record's place and never makes a watcher lag."""
        try:
            while True:
                try:
                    async with asyncio.timeout(keepalive_s):
                        record = await self._queue.get()
                except TimeoutError:
                    yield KEEPALIVE
                    continue
                if record is None:
                    if self.lagged:
                        raise AuditWatchLaggedError("audit watcher fell behind; resume with List")
                    if self._error is not None:
                        raise self._error
                    return
                yield record
        finally:
            self._fanout.unsubscribe(self)


class WatchHub(Protocol):
    """What the writer hands its stored records to and watchers subscribe at."""

    @property
    def watchers(self) -> int: ...

    async def start(self) -> None: ...

    def subscribe(self) -> Subscription: ...

    def publish(self, records: Sequence[AuditRecord]) -> None: ...

    def end_watches(self) -> int: ...

    async def aclose(self) -> None: ...


class Fanout:
    """This process's records to this process's watchers (one worker)."""

    def __init__(self, maxsize: int = 1000) -> None:
        self._maxsize = maxsize
        self._subs: set[Subscription] = set()
        self._ending = False  # the server shuts down: every watch ends cleanly

    @property
    def watchers(self) -> int:
        return len(self._subs)

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self._maxsize)
        self._subs.add(sub)
        if self._ending:  # accepted just before shutdown: nothing more will come
            sub.end()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, records: Sequence[AuditRecord]) -> None:
        for sub in tuple(self._subs):
            for record in records:
                sub.offer(record)

    def close(self, error: NovaError | None = None) -> None:
        """End every watcher (with ``error``, if given); later ones still subscribe."""
        for sub in tuple(self._subs):
            sub.end(error)

    def end_watches(self) -> int:
        """Shutdown: end every watch after the records already queued for it, with
        no error (a watch has nothing to finish, so the drain need not wait for
        it), and any later one at once. Returns how many were open."""
        self._ending = True
        open_now = len(self._subs)
        self.close()
        return open_now

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        self.close()


_FILL_PAGE = 500


def _why(exc: BaseException) -> str:
    """An error for the log: its type and message, or its type alone when the
    message is empty (a TimeoutError from asyncio.timeout has none)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def encode_records(records: Sequence[AuditRecord]) -> bytes:
    """One message: the records' stored lines, exactly what the sink holds."""
    return b"".join(r.line() for r in records)


def decode_records(message: bytes) -> list[AuditRecord]:
    """``ValueError`` if any line is not a record."""
    return [decode(line) for line in message.splitlines() if line]


class SharedFanout:
    """Every worker's records to this worker's watchers, in seq order, each once.

    The writer hands over what its sink took (``publish``): those go to the local
    watchers at once and, from a bounded outbox, onto ``channel`` for the other
    workers; this worker hears theirs (and its own again) on the same channel.
    The chain's seq is shared, so order and duplicates are settled by it: a
    record heard whose hash is not its digest is ignored (a gap it leaves is
    read from the sink), one already delivered is dropped, and one that comes early waits for
    those before it. A gap still open after ``gap_wait_s`` (a publish that was
    lost, or is slow) is read back from the sink, the read ``ListAuditEvents``
    uses; so is a tail no message announced, checked every ``tail_check_s``
    while watchers are connected. Each record must link onto the one before.

    When the channel is lost (Redis down), or a missing record cannot be read
    (within ``read_timeout_s``), or more than ``max_pending`` records (default:
    ``maxsize``) wait on a gap, every watcher is cut off with
    ``AuditWatchInterruptedError`` (UNAVAILABLE) and resumes with List from the
    last seq it saw. The hub then starts again
    after the log's head, read from the sink (never after a record it only
    heard: a message with a seq ahead of the chain would silence it); until
    that head is read, and while the channel is down, new watchers are refused
    the same way. A log whose head is behind what was delivered (the feed ran
    ahead of it) is treated the same. Publishing never blocks the writer
    and never fails it: a full outbox or a failed publish is logged, and the
    other workers fill that gap from the sink.
    """

    def __init__(
        self,
        channel: Broadcast,
        sink: AuditSink,
        *,
        maxsize: int = 1000,
        gap_wait_s: float = 0.5,
        tail_check_s: float = 5.0,
        outbox_size: int = 1000,
        min_backoff_s: float = 0.1,
        max_backoff_s: float = 2.0,
        read_timeout_s: float = 5.0,
        max_pending: int | None = None,
        keys: ChainKeys = UNKEYED,
    ) -> None:
        self._local = Fanout(maxsize)
        self._keys = keys  # a keyed record heard is checked under its key
        self._channel = channel
        self._sink = sink
        self._gap_wait_s = gap_wait_s
        self._tail_check_s = tail_check_s
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self._read_timeout_s = read_timeout_s
        self._max_pending = maxsize if max_pending is None else max_pending
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(outbox_size)
        self._next = 0  # the next seq a watcher gets
        self._anchored = False  # _next comes from the sink's head (read since the last cut)
        self._cuts = 0  # how many times watchers were cut off
        self._last_hash = ""  # what that record must link onto ("": not known)
        self._pending: dict[int, AuditRecord] = {}  # came early, by seq
        self._gap_since: float | None = None
        self._tail_checked = float("-inf")  # monotonic time of the last tail check
        self._wake = asyncio.Event()
        self._up = False  # subscribed to the channel
        self._subscribed_once = asyncio.Event()
        self._publish_ok = True
        self._unpublished = 0  # records dropped from a full outbox (logged once a run)
        self._tasks: list[asyncio.Task[None]] = []

    # ---------------------------------------------------------------- the hub

    @property
    def watchers(self) -> int:
        return self._local.watchers

    @property
    def up(self) -> bool:
        """Subscribed and started after the log's head: watchers get every
        worker's records."""
        return self._up and self._anchored

    async def start(self, *, wait_s: float = 2.0) -> None:
        """Start following; wait (up to ``wait_s``) for the subscription, so a
        watcher that comes right after start-up is not refused. Redis down at
        start only delays this: watchers are refused until it is back."""
        self._tasks = [
            asyncio.create_task(self._listen(), name="audit-watch-listen"),
            asyncio.create_task(self._send(), name="audit-watch-publish"),
            asyncio.create_task(self._mend(), name="audit-watch-mend"),
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await self._subscribed_once.wait()

    def subscribe(self) -> Subscription:
        if not self._up:
            raise AuditWatchInterruptedError(
                "audit watch: the feed of other workers' records is down (Redis "
                "unavailable); read with ListAuditEvents and watch again later"
            )
        if not self._anchored:
            raise AuditWatchInterruptedError(
                "audit watch: the log's head is not known yet; read with "
                "ListAuditEvents and watch again later"
            )
        return self._local.subscribe()

    def publish(self, records: Sequence[AuditRecord]) -> None:
        """This worker's stored records: to its watchers now, to the others queued."""
        if not records:
            return
        self._accept(records)
        try:
            self._outbox.put_nowait(encode_records(records))
        except asyncio.QueueFull:  # Redis slow or stalled: say so once, not per batch
            if not self._unpublished:
                _log.warning(
                    "audit watch: publish queue full; records are not published until "
                    "it drains (other workers read them from the log)"
                )
            self._unpublished += len(records)
        else:
            if self._unpublished:
                _log.warning(
                    "audit watch: publish queue has room again; %d records were not "
                    "published (other workers read them from the log)",
                    self._unpublished,
                )
                self._unpublished = 0

    def end_watches(self) -> int:
        return self._local.end_watches()

    async def aclose(self) -> None:
        """End the watchers, publish what is queued (briefly), stop the tasks."""
        self._up = False
        self._local.close()
        sender = self._tasks[1] if self._tasks else None
        if sender is not None and not sender.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._outbox.join()
        # Not awaiting each task under suppress(CancelledError): that would also
        # swallow a cancel of aclose itself.
        await cancel_and_wait(*self._tasks)
        self._tasks = []
        await self._channel.aclose()

    # ---------------------------------------------------------------- ordering

    def _accept(self, records: Sequence[AuditRecord]) -> None:
        if not self._anchored:
            return  # no watchers; where to start is read from the sink
        if not self._local.watchers:
            # Nobody to deliver to: just move the start on (checked against the
            # log's head by the tail check once someone watches).
            last = max(records, key=lambda r: r.seq)
            if last.seq >= self._next:
                self._start_after(ChainHead(last.seq, last.hash))
            return
        for record in records:
            if record.seq >= self._next:
                self._pending[record.seq] = record
        self._flush()
        if len(self._pending) > self._max_pending:  # a gap still being read; don't hoard
            self._interrupt(f"more than {self._max_pending} records wait for a gap to be read")

    def _start_after(self, head: ChainHead) -> None:
        self._next, self._last_hash = head.seq + 1, head.hash
        self._pending = {s: r for s, r in self._pending.items() if s > head.seq}
        self._flush()

    def _flush(self) -> None:
        """Deliver the run that starts at the next seq; note a gap after it (the
        gap's grace starts when the one before it closed)."""
        advanced = False
        while (record := self._pending.pop(self._next, None)) is not None:
            if self._last_hash and record.prev_hash != self._last_hash:
                self._interrupt(f"record {record.seq} does not link onto the one before it")
                return
            self._local.publish([record])
            self._next, self._last_hash = record.seq + 1, record.hash
            advanced = True
        if not self._pending:
            self._gap_since = None
        elif self._gap_since is None:
            self._gap_since = time.monotonic()
            self._wake.set()
        elif advanced:
            self._gap_since = time.monotonic()

    def _interrupt(self, why: str) -> None:
        """Cut every watcher off (they resume with List); new ones wait until
        the log's head has been read again (``_mend``). Nothing pending is
        trusted to restart from: it may be the record that could not be read."""
        if self._local.watchers:
            _log.warning("audit watch: cutting off %d watchers: %s", self._local.watchers, why)
        self._local.close(
            AuditWatchInterruptedError(f"audit watch interrupted: {why}; resume with List")
        )
        self._anchored = False
        self._cuts += 1
        self._pending = {}
        self._gap_since = None
        self._wake.set()

    def _anchor(self, head: ChainHead) -> None:
        """Start after the log's head (no watchers are connected)."""
        self._next, self._last_hash = head.seq + 1, head.hash
        self._pending = {}
        self._gap_since = None
        self._anchored = True
        if self._up:
            self._subscribed_once.set()

    # ---------------------------------------------------------------- the tasks

    async def _listen(self) -> None:
        backoff = self._min_backoff_s
        while True:
            problem = "the channel ended"
            try:
                async for message in self._channel.listen(self._subscribed):
                    backoff = self._min_backoff_s
                    self._heard(message)
            except NovaError as exc:  # StorageUnavailableError: Redis is down
                problem = exc.message
            except Exception as exc:  # a bug must not end watching for good
                _log.exception("audit watch: listening failed")
                problem = f"{type(exc).__name__}"
            if self._up:
                _log.warning("audit watch: lost the shared feed: %s", problem)
            self._up = False
            self._interrupt(f"the feed of other workers' records was lost ({problem})")
            await asyncio.sleep(backoff)
            backoff = min(self._max_backoff_s, backoff * 2)

    async def _subscribed(self) -> None:
        """Start after the sink's head: anything newer comes on the channel. A
        head that cannot be read is read again by ``_mend``; watchers wait."""
        self._up = True
        if await self._read_head():
            _log.info("audit watch: following every worker's records")
        else:
            self._wake.set()  # _mend reads it again

    async def _head(self) -> ChainHead | None:
        """The sink's head, or None (logged) if it cannot be read in time."""
        try:
            async with asyncio.timeout(self._read_timeout_s):
                return await self._sink.head()
        except Exception as exc:  # the sink is down: the caller tries again later
            _log.warning("audit watch: reading the log's head failed: %s", _why(exc))
            return None

    async def _read_head(self) -> bool:
        """Anchor on the sink's head; False (logged) if it cannot be read."""
        cuts = self._cuts
        if (head := await self._head()) is None:  # watchers wait until it is back
            return False
        if not self._anchored and cuts == self._cuts:  # nothing cut the feed off meanwhile
            self._anchor(head)
        return self._anchored

    def _heard(self, message: bytes) -> None:
        try:
            records = decode_records(message)
        except ValueError as exc:  # not ours: a gap it leaves is read from the sink
            _log.warning("audit watch: ignoring a message that is not records: %s", exc)
            return
        good = [r for r in records if sound(r, self._keys)]
        if len(good) < len(records):  # a gap it leaves is read from the sink
            bad = sorted(r.seq for r in records if not sound(r, self._keys))
            _log.warning("audit watch: ignoring records whose hash does not match: %s", bad)
        if good:
            self._accept(good)

    async def _send(self) -> None:
        while True:
            message = await self._outbox.get()
            try:
                await self._channel.publish(message)
            except Exception as exc:  # other workers fill the gap from the sink
                if self._publish_ok:
                    _log.warning("audit watch: publishing failed: %s", _why(exc))
                self._publish_ok = False
            else:
                if not self._publish_ok:
                    _log.info("audit watch: publishing again")
                self._publish_ok = True
            finally:
                self._outbox.task_done()

    async def _mend(self) -> None:
        backoff = self._min_backoff_s
        while True:
            wait_s = self._tail_check_s
            if self._up and not self._anchored:
                wait_s, backoff = backoff, min(self._max_backoff_s, backoff * 2)
                if await self._read_head():
                    backoff = self._min_backoff_s
                    continue
            # asyncio.timeout, never wait_for: on Python 3.11 wait_for drops a
            # cancel that lands as the wait finishes (a cut's wake, then the
            # close), and this loop then ran on for ever (a worker that hung
            # in drain after Redis was lost).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._wake.wait()
            self._wake.clear()
            if not self._anchored:
                continue
            try:
                await self._mend_once()
            except Exception:  # a bug must not leave gaps open for good
                _log.exception("audit watch: mending a gap failed")
                self._interrupt("a gap could not be mended")

    async def _mend_once(self) -> None:
        while self._local.watchers and self._gap_since is not None:
            wait_s = self._gap_since + self._gap_wait_s - time.monotonic()
            if wait_s > 0:
                await asyncio.sleep(wait_s)  # the missing records may still come
                continue
            await self._fill(min(self._pending) - 1)
        due = time.monotonic() - self._tail_checked >= self._tail_check_s
        if due and self._local.watchers and self._up and not self._pending:
            self._tail_checked = time.monotonic()
            delivered = self._next - 1  # all stored before they were heard
            if (head := await self._head()) is None:
                return
            if head.seq < delivered:
                self._interrupt(f"the feed ran ahead of the log (seq {delivered} > {head.seq})")
            elif head.seq >= self._next:  # a tail whose message never came
                await self._fill(head.seq)

    async def _fill(self, upto: int) -> None:
        """Read ``next..upto`` from the sink and deliver it."""
        cuts = self._cuts
        while self._local.watchers and 0 < self._next <= upto:
            start = self._next
            try:
                async with asyncio.timeout(self._read_timeout_s):
                    page = await self._sink.range(start, upto, limit=_FILL_PAGE)
            except Exception as exc:  # logged here; the watcher is told no more
                if cuts == self._cuts:  # not already cut off meanwhile
                    _log.warning(
                        "audit watch: reading records %d..%d failed: %s",
                        start,
                        upto,
                        _why(exc),
                    )
                    self._interrupt(f"records {start}..{upto} could not be read from the log")
                return
            if cuts != self._cuts:  # cut off meanwhile: start again from the head
                return
            if self._next != start:  # the channel brought some meanwhile
                page = [r for r in page if r.seq >= self._next]
                if not page:
                    continue
            if not page or page[0].seq != self._next:
                self._interrupt(f"record {self._next} is not in the log")
                return
            self._accept(page)
            if self._next == start:
                return  # nothing delivered (interrupted): stop here
