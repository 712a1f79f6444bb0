"""AuditWriter: the ``AuditLog`` port. Drops no record it holds; a hung sink spills.

``record()`` puts the summary on a bounded queue (awaiting only when the queue
is full, so overload slows requests instead of dropping evidence). One writer
task builds records, chains them in order and writes batches. When the sink
fails, batches go to an fsynced spill file; while the spill holds anything new
batches queue behind it, and the spill is replayed in order with backoff until
the sink takes it; an append that hangs past ``append_timeout_s`` counts as a
failure. ``aclose()`` drains the queue; what the sink cannot take by then stays
in the spill file and is replayed at the next start. At shutdown,
``cut_sink_calls(within_s)`` (or ``aclose(sink_wait_s=...)``) cuts every sink
call, the one under way too, that much time later: a hung sink then costs the
drain that long, not ``append_timeout_s`` per call, and what it did not take is
in the spill before anyone has to kill the process.

By default ``record()`` returns once the summary is queued, and the answer goes
out while its record is written: what is still queued when the process is
killed (SIGKILL) is lost. With ``store_before_reply`` it returns only when the
record is in the sink or the fsynced spill (no linger: a batch is whatever
queued while the last one was written), and raises ``AuditNotStoredError``
when it is in neither, so the caller can hold the answer back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TypeVar

from novaos.audit.chain import UNKEYED, ChainHead, ChainKeys, head_of, seal_all
from novaos.audit.observe import AuditObserver, AuditStatus, ChainAlarm, NullAuditObserver
from novaos.audit.record import AuditPolicy, AuditRecord, build_record
from novaos.audit.sink import AuditSink
from novaos.audit.spill import SpillFile
from novaos.audit.watch import Fanout, Subscription, WatchHub
from novaos.errors import AuditChainBrokenError, AuditNotStoredError, ConfigError
from novaos.ports import RequestSummary

_log = logging.getLogger("novaos.audit")
_T = TypeVar("_T")

# A summary, when it ended, and who waits for it to be stored; None: close.
_Entry = tuple[RequestSummary, float, "asyncio.Future[None] | None"]
_Item = _Entry | None


class AuditWriter:
    def __init__(
        self,
        sink: AuditSink,
        policy: AuditPolicy,
        *,
        spill_path: Path | None,
        spill_setting: str = "AUDIT_SPILL_PATH",
        queue_size: int = 10_000,
        batch_size: int = 100,
        linger_s: float = 0.01,
        max_backoff_s: float = 5.0,
        watch_queue_size: int = 1000,
        watch_hub: WatchHub | None = None,
        observer: AuditObserver | None = None,
        append_timeout_s: float = 10.0,
        store_before_reply: bool = False,
        keys: ChainKeys = UNKEYED,
        chain_alarm: ChainAlarm | None = None,
    ) -> None:
        self.sink = sink
        self.keys = keys
        # A sink that hangs (a stuck lock, a partition) is a sink that is down: its
        # batch spills instead of holding the queue, and with it every request.
        self._append_timeout_s = append_timeout_s
        self.policy = policy
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(queue_size)
        self._spill = SpillFile(spill_path, setting=spill_setting, keys=keys)
        self._batch_size = batch_size
        self._store_before_reply = store_before_reply
        # A reply that waits for its record must not also wait out a linger.
        self._linger_s = 0.0 if store_before_reply else linger_s
        self._max_backoff_s = max_backoff_s
        self._observer = observer or NullAuditObserver()
        # Watchers hear this writer's records, or (several workers) everyone's.
        self._fanout: WatchHub = watch_hub or Fanout(watch_queue_size)
        # The last record sealed (stored, spilled or held). While the spill or memory
        # holds records it is the last of them, so the spill stays one chain that
        # its check can follow; otherwise the last record the sink took.
        self._head = ChainHead()
        self._stored_head = ChainHead()  # the last record the sink took
        self._sink_open = False
        self._sink_ok = False
        self._chain_broken = False  # the sink refused to chain onto a cut tail
        # WORKERS>1: the other workers never saw the cut records; they hear it here.
        self._chain_alarm = chain_alarm
        self._held: list[AuditRecord] = []  # only when even the spill fails
        self._backoff_s = 0.0
        self._retry_at = 0.0
        self._written = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._close_by: float | None = None  # loop time no sink call outlasts (shutdown)
        self._bound: asyncio.Timeout | None = None  # the sink call under way

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        pending = await self._spill.open()
        if pending:
            _log.warning("audit: %d spilled records from a previous run will be replayed", pending)
        if self._spill.head is not None:
            self._head = self._spill.head  # new records follow the spilled ones
        if self._spill.quarantined:
            self._observer.on_quarantine(self._spill.quarantined)
        try:
            await self._try_open(starting=True)
        except ConfigError:
            await self._spill.aclose()
            raise
        await self._fanout.start()
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def aclose(self, *, close_sink: bool = True, sink_wait_s: float | None = None) -> None:
        """Drain the queue, try a last replay, close the spill (and the sink).

        ``sink_wait_s`` (shutdown): no sink call runs past that long from now,
        the one under way included; what the sink has not taken by then is
        spilled, as when it fails."""
        if self._closed:
            return
        self._closed = True
        if sink_wait_s is not None:
            self.cut_sink_calls(sink_wait_s)
        if self._task is not None:
            await self._queue.put(None)
            try:
                await self._task
            finally:
                self._task = None
        if self._held:  # neither the sink nor the spill took them, even at the last try
            ids = ", ".join(r.request_id for r in self._held[:20])
            _log.error("audit: closing with %d records neither stored nor spilled, lost: %s",
                       len(self._held), ids)  # fmt: skip
        await self._fanout.aclose()
        await self._spill.aclose()
        if close_sink:
            await self.sink.aclose()

    # ---------------------------------------------------------------- the port

    async def record(self, summary: RequestSummary) -> None:
        if self._closed:  # the server stops (and its handlers finish) before this closes
            _log.error("audit: record for %s arrived after close", summary.request_id)
            if self._store_before_reply:
                raise AuditNotStoredError("audit record not stored: the audit log is closed")
            return
        stored = asyncio.get_running_loop().create_future() if self._store_before_reply else None
        item = (summary, time.time(), stored)
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            await self._queue.put(item)  # backpressure beats losing a record
        self._observer.on_queue_depth(self._queue.qsize())
        if stored is not None:
            # Shielded: a caller that goes away leaves the record queued, and the
            # writer must still be able to settle the future.
            try:
                await asyncio.shield(stored)
            except asyncio.CancelledError:
                stored.add_done_callback(_retrieved)  # nobody is left to read its error
                raise

    def subscribe(self) -> Subscription:
        return self._fanout.subscribe()

    def end_watches(self) -> int:
        """End every open watch cleanly (the server shuts down); how many were open."""
        return self._fanout.end_watches()

    def status(self) -> AuditStatus:
        if self._held or self._chain_broken:  # a cut tail needs someone, as a down sink
            state = "down"
        elif self._chain_alarm is not None and self._chain_alarm.raised():
            state = "down"  # another worker found the cut: the pod is not ready
        elif self._spill.count:
            state = "spilling"
        elif not self._sink_ok:
            state = "down"
        else:  # a spill that failed its check needs someone to look at it (down and
            # spilling, above, need someone sooner; ``quarantined`` counts the files always)
            state = "quarantined" if self._spill.quarantined else "ok"
        return AuditStatus(
            sink=self.sink.name,
            status=state,
            queue_depth=self._queue.qsize(),
            spilled=self._spill.count + len(self._held),
            quarantined=self._spill.quarantined,
            written=self._written,
            head_seq=self._head.seq,
            watchers=self._fanout.watchers,
        )

    def tail_rewritten(self, exc: AuditChainBrokenError) -> None:
        """A verify found the tail this process stored or saw cut and written again
        by another worker. The sink refuses this process's next append for it: the
        warning, and ``down``, come now, not only once something is written."""
        if not self._chain_broken:
            self._failed(exc)

    @property
    def head(self) -> ChainHead:
        return self._head

    @property
    def stored_head(self) -> ChainHead:
        """The last record this writer saw the sink take (what verify can expect
        to find; a spilled record is not there yet)."""
        return self._stored_head

    # ---------------------------------------------------------------- the task

    async def _run(self) -> None:
        closing = False
        while not closing:
            batch, closing = await self._next_batch()
            try:
                await self._write(batch, closing=closing)
            except Exception:  # a bug must not stop the only writer task
                _log.exception("audit: writing a batch of %d failed", len(batch))
            self._observer.on_queue_depth(self._queue.qsize())

    async def _write(self, batch: list[_Entry], *, closing: bool) -> None:
        records: list[AuditRecord | None] = []  # empty: the writer failed before building
        kept, why = False, "the audit writer failed"
        try:  # whatever fails in here, nobody is left waiting for its record
            records = [self._build(s, t) for s, t, _ in batch]
            kept = await self._deliver([r for r in records if r is not None], force_retry=closing)
            why = "sink and spill both failed"
        finally:
            for i, (_, _, waiter) in enumerate(batch):
                if waiter is None or waiter.done():
                    continue
                record = records[i] if records else None
                if kept and record is not None:
                    waiter.set_result(None)
                    continue
                reason = "no record could be built" if records and record is None else why
                waiter.set_exception(AuditNotStoredError(f"audit record not stored: {reason}"))

    def _build(self, summary: RequestSummary, ended_unix: float) -> AuditRecord | None:
        """One record; a summary that cannot become one costs only itself, never
        the batch it came with."""
        try:
            return build_record(summary, self.policy, ended_unix=ended_unix)
        except Exception:
            _log.exception("audit: no record could be built for %s", summary.request_id)
            return None

    async def _next_batch(self) -> tuple[list[_Entry], bool]:
        """Wait for work (or until the next retry is due) and take a batch."""
        batch: list[_Entry] = []
        try:
            if self._backlogged():
                wait_s = max(0.0, self._retry_at - time.monotonic())
                async with asyncio.timeout(wait_s or 0.001):
                    first = await self._queue.get()
            else:
                first = await self._queue.get()
        except TimeoutError:
            return batch, False
        if first is not None and self._linger_s and self._queue.qsize() < self._batch_size - 1:
            # Group commit: let a batch gather, and keep sealing and writing out
            # of the request that just finished (its response is still going out).
            await asyncio.sleep(self._linger_s)
        items = [first]
        while len(items) < self._batch_size and not self._queue.empty():
            items.append(self._queue.get_nowait())
        closing = any(item is None for item in items)
        batch = [item for item in items if item is not None]
        return batch, closing

    def _backlogged(self) -> bool:
        return bool(self._spill.count or self._held or not self._sink_open)

    async def _bounded(self, call: Awaitable[_T]) -> _T:
        """A sink call that hangs past ``append_timeout_s`` (or, closing, past the
        close's cut) fails like a sink that is down (opening it and replaying the
        spill too, not only appends)."""
        when = asyncio.get_running_loop().time() + self._append_timeout_s
        if self._close_by is not None:
            when = min(when, self._close_by)
        bound = asyncio.timeout_at(when)
        try:
            async with bound:
                self._bound = bound
                return await call
        except TimeoutError:
            if not bound.expired():
                raise  # the sink's own
            if self._close_by is not None and (bound.when() or 0.0) <= self._close_by:
                raise TimeoutError("no answer before the shutdown's cut") from None
            raise TimeoutError(f"no answer within {self._append_timeout_s:g} s") from None
        finally:
            self._bound = None

    def cut_sink_calls(self, within_s: float) -> None:
        """Shutdown: no sink call runs past ``within_s`` from now, the one under way
        included (an earlier cut stands); what the sink has not taken by then is
        spilled, as when it fails. Set when the server's grace ends, so the drain's
        later steps (lease releases on a hung Redis) do not push the cut past the
        supervisor's kill."""
        when = asyncio.get_running_loop().time() + within_s
        if self._close_by is not None:
            when = min(when, self._close_by)
        self._close_by = when
        # The call under way may have been given append_timeout_s before the close.
        bound = self._bound
        if bound is not None and (bound.when() or when + 1) > when:
            bound.reschedule(when)

    async def _deliver(self, drafts: list[AuditRecord], *, force_retry: bool) -> bool:
        """Seal the records and store them: True when they are in the sink or the
        spill file, False when only memory holds them."""
        if self._backlogged() and (force_retry or time.monotonic() >= self._retry_at):
            await self._recover()
        # Sealed after the recovery, onto the head it leaves: the spill's last record
        # (sink still down) or the sink's (replayed).
        records = seal_all(drafts, self._head, self.keys)
        self._head = head_of(records, self._head)
        if self._backlogged():
            return await self._park(records)
        try:
            stored = await self._bounded(self.sink.append(records))
        except Exception as exc:  # any sink failure (a timeout too): spill, never drop
            # A late commit of the timed-out batch is harmless: the replay skips
            # records the sink already holds.
            self._failed(exc)
            return await self._park(records)
        self._stored(stored)
        return True

    async def _try_open(self, *, starting: bool = False) -> None:
        try:
            self._stored_head = await self._bounded(self.sink.open())
        except Exception as exc:  # sink down at start: spill until it is back
            if starting and isinstance(exc, ConfigError):
                raise  # a directory we may not write is not coming back: stop start-up
            self._failed(exc)
            return
        self._sink_open = True
        self._sink_ok = True
        if not self._pending():
            self._head = self._stored_head

    async def _recover(self) -> None:
        """Open the sink if needed, then replay the spill in order."""
        if not self._sink_open:
            await self._try_open()
            if not self._sink_open:
                return
        try:
            await self._replay()
        except Exception as exc:  # still down: try again after backoff
            self._failed(exc)
            return
        self._backoff_s = 0.0

    async def _replay(self) -> None:
        """The spill, then what is held in memory (newer: once a spill write
        failed, every later batch joined the held ones), in order."""
        if self._held:
            try:
                await self._spill.append(self._held)
            except OSError:
                pass  # the spill is still unwritable: the held records go straight to the sink
            else:
                self._held = []
        pending = await self._spill.read()  # checked: a spill that fails is quarantined
        self._quarantined()
        if not self._held:  # held records follow the spill's: their last is the head
            self._head = head_of(pending, self._head)
        pending = await self._skip_stored(pending)
        replayed = False
        while pending:
            chunk = pending[: self._batch_size]
            try:
                stored = await self._bounded(self.sink.append(chunk))
            except BaseException:
                # Rewriting takes the spill's size again in free space: only
                # when part of it went in (a sink still down took nothing).
                if replayed:
                    await self._spill.replace(pending)
                raise
            replayed = True
            self._stored(stored)
            pending = pending[len(chunk) :]
        await self._spill.replace([])
        while self._held:
            chunk = self._held[: self._batch_size]
            # less when some were stored already
            self._stored(await self._bounded(self.sink.append(chunk)))
            del self._held[: len(chunk)]
        self._head = self._stored_head
        self._observer.on_spill(0, spilling=False)
        _log.info("audit: spill replayed, sink %s is back", self.sink.name)

    async def _skip_stored(self, pending: list[AuditRecord]) -> list[AuditRecord]:
        """Drop spilled records the sink already has (crash between write and trim)."""
        head = await self._bounded(self.sink.head())
        if not pending or head.seq == 0:
            return pending
        last = await self._bounded(self.sink.range(head.seq, head.seq, limit=1))
        ids = [r.id for r in pending]
        if last and last[0].id in ids:
            return pending[ids.index(last[0].id) + 1 :]
        return pending

    async def _park(self, records: Sequence[AuditRecord]) -> bool:
        """Spill the records (True), or hold them in memory when the spill fails
        or holds older ones in memory already (False)."""
        if not records:
            return True
        if self._held:  # behind records the spill could not take: keep their order
            self._held.extend(records)
            self._observer.on_spill(self._spill.count + len(self._held), spilling=True)
            return False
        spilled = True
        try:
            await self._spill.append(records)
        except OSError as exc:
            _log.error("audit: spill write failed, holding %d records in memory: %s",
                       len(records), exc)  # fmt: skip
            self._held.extend(records)
            spilled = False
        self._observer.on_spill(self._spill.count + len(self._held), spilling=True)
        return spilled

    def _pending(self) -> bool:
        return bool(self._spill.count or self._held)

    def _quarantined(self) -> None:
        if self._spill.quarantined:
            self._observer.on_quarantine(self._spill.quarantined)

    def _stored(self, stored: Sequence[AuditRecord]) -> None:
        self._sink_ok = True
        self._chain_broken = False
        if self._chain_alarm is not None:
            self._chain_alarm.clear()
        if stored:
            self._stored_head = ChainHead(stored[-1].seq, stored[-1].hash)
            if not self._pending():
                self._head = self._stored_head
            self._written += len(stored)
            self._observer.on_written(len(stored))
            self._fanout.publish(stored)

    def _failed(self, exc: BaseException) -> None:
        if self._sink_ok or self._backoff_s == 0.0:
            _log.warning("audit: sink %s failed, spilling: %s", self.sink.name, exc)
        self._sink_ok = False
        self._chain_broken = isinstance(exc, AuditChainBrokenError)
        if self._chain_broken and self._chain_alarm is not None:
            self._chain_alarm.raise_alarm(str(exc))
        self._observer.on_sink_error(self.sink.name, exc)
        self._backoff_s = min(self._max_backoff_s, max(0.05, self._backoff_s * 2))
        self._retry_at = time.monotonic() + self._backoff_s


def _retrieved(stored: asyncio.Future[None]) -> None:
    if not stored.cancelled():
        stored.exception()
