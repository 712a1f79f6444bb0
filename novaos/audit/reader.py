"""AuditReader: list, get, verify and watch, over any sink.

``verify`` walks a range page by page with a streaming verifier; the first
record's link is checked against the record before the range (or the genesis
hash), and a range that runs to the head must end at the writer's head, so a
cut-off tail shows too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from novaos.audit.chain import (
    GENESIS_HASH,
    UNKEYED,
    ChainHead,
    ChainKeys,
    ChainVerifier,
    VerifyResult,
    digest,
    replaced_at,
    rewritten,
    sound,
)
from novaos.audit.record import AuditRecord
from novaos.audit.sink import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    AuditPage,
    AuditQuery,
    AuditSink,
    decode_page_token,
)
from novaos.audit.watch import Subscription
from novaos.audit.writer import AuditWriter
from novaos.errors import InvalidArgumentError, NotFoundError

_VERIFY_PAGE = 1000
_UNBOUNDED = 2**62  # the head when the last record cannot be read: up to it
_PSEUDONYM = re.compile(r"u_[0-9a-f]{32}")


def _check_range(from_seq: int, to_seq: int) -> None:
    """Refuse a bad range, naming the field that is wrong."""
    if from_seq < 0:
        raise InvalidArgumentError("from_seq", "must not be negative (0: the first record)")
    if to_seq < 0:
        raise InvalidArgumentError("to_seq", "must not be negative (0: the last record)")
    if to_seq and from_seq > to_seq:
        raise InvalidArgumentError(
            "to_seq", f"must be 0 (the last record) or at least from_seq ({from_seq})"
        )


class AuditReader:
    def __init__(
        self, sink: AuditSink, writer: AuditWriter | None = None, *, keys: ChainKeys | None = None
    ) -> None:
        self._sink = sink
        self._writer = writer
        # The keys that verify keyed records: the writer's, unless given.
        self._keys = keys if keys is not None else writer.keys if writer is not None else UNKEYED

    async def list(
        self, query: AuditQuery, *, page_size: int = 0, page_token: str = ""
    ) -> AuditPage:
        if page_size < 0:
            raise InvalidArgumentError("page_size", "must not be negative")
        limit = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        if query.start_time and query.end_time and query.start_time >= query.end_time:
            raise InvalidArgumentError("end_time", "must be after start_time")
        if query.after_seq < 0:
            raise InvalidArgumentError("after_seq", "must not be negative (0: the first record on)")
        # A page token is past after_seq already (it names the previous page's last
        # record); the larger of the two is where this page starts.
        after = max(query.after_seq, decode_page_token(page_token))
        if query.user and self._writer is not None and not _PSEUDONYM.fullmatch(query.user):
            # An admin may name the user by id; the log only holds the pseudonym.
            query = replace(query, user=self._writer.policy.user_ref(query.user))
        return await self._sink.list(replace(query, after_seq=after, limit=limit))

    async def get(self, record_id: str) -> AuditRecord:
        if not record_id:
            raise InvalidArgumentError("id", "required")
        record = await self._sink.get(record_id)
        if record is None:
            raise NotFoundError(f"audit record {record_id} not found")
        return record

    async def verify(self, from_seq: int = 0, to_seq: int = 0) -> VerifyResult:
        """Verify ``from_seq..to_seq`` (0: first / last record). A range with no
        record in it (``from_seq`` past the last one, an empty log) is ok with
        ``checked`` 0: a verifier that goes on from the last seq it checked is not
        told the chain is broken because nothing new was written."""
        _check_range(from_seq, to_seq)
        unreadable_last = ""
        try:
            head = (await self._sink.head()).seq
        except ValueError as exc:  # the last stored line no longer parses: read up to it
            head, unreadable_last = _UNBOUNDED, f"unreadable last record: {exc}"
        # A tail cut from the sink shows here: records this process stored or saw.
        high = self._sink.high
        head = max(head, high.seq)
        if self._writer is not None:
            head = max(head, self._writer.stored_head.seq)
        # A range that runs past the last record checks what there is: records
        # never written are not missing (a cut tail shows in ``head`` above).
        last = min(to_seq, head) if to_seq else head
        start = max(from_seq, 1)
        if not from_seq and getattr(self._sink, "evicts", False):
            oldest = await self._sink.range(1, last, limit=1)  # a ring forgets its start
            start = oldest[0].seq if oldest else start
        anchor, keyed_before, problem = await self._anchor(start, last)
        if problem:
            return VerifyResult(False, 0, start - 1, problem)
        verifier = ChainVerifier(
            start_seq=start, anchor=anchor, keys=self._keys, keyed_before=keyed_before
        )
        cursor = start
        while cursor <= last and not verifier.failed:
            try:
                page = await self._sink.range(cursor, last, limit=_VERIFY_PAGE)
            except ValueError as exc:  # a stored line that no longer parses
                return verifier.broken(cursor, f"unreadable record near {cursor}: {exc}")
            if not page:
                break
            self._feed(verifier, page, high)
            cursor = max(cursor, *(r.seq for r in page)) + 1
        if unreadable_last and not to_seq:  # the walk stops at that line: name its seq
            return verifier.broken(verifier.next_seq, unreadable_last)
        if not verifier.failed and verifier.next_seq <= last:
            await self._after_gap(verifier)
        return verifier.result(expected_last_seq=last)

    def _feed(self, verifier: ChainVerifier, page: Sequence[AuditRecord], high: ChainHead) -> None:
        for record in page:
            # A cut tail written again (another worker reused its seqs) links up:
            # only the record this process stored or saw there shows it.
            replaced = replaced_at(high, record, self._keys)
            if replaced and record.seq == verifier.next_seq:
                verifier.broken(record.seq, replaced)
                if self._writer is not None:  # its next append refuses it: down now
                    self._writer.tail_rewritten(rewritten(high, self._sink.name))
            verifier.feed(record)

    async def _after_gap(self, verifier: ChainVerifier) -> None:
        """The walk ended short of the range's last seq: feed the first record
        stored after the gap, if any, so that a deletion is reported as one (``found
        N``); only when nothing follows is it a cut tail (``missing (tail)``)."""
        missing = verifier.next_seq
        try:
            following = await self._sink.range(missing, _UNBOUNDED, limit=1)
        except ValueError as exc:  # what follows does not parse: not a tail either
            verifier.broken(missing, f"unreadable record near {missing}: {exc}")
            return
        if following:
            verifier.feed(following[0])

    async def _anchor(self, start: int, last: int) -> tuple[str | None, bool, str]:
        """The hash the record at ``start`` links to (None: evicted from a memory
        ring, unknown), whether a record before the range was keyed (so an
        unkeyed one in it is a rewrite), and what is wrong with the record before
        the range ("": nothing). A range is checked against that record, so it
        must be there and sound too: a missing or edited anchor is reported by its
        own seq, not passed over (which let a forged range through)."""
        if start <= 1:
            return GENESIS_HASH, False, ""
        seq = start - 1
        try:
            before = await self._sink.range(seq, seq, limit=1)
        except ValueError as exc:  # a stored line that no longer parses
            return None, False, f"unreadable record {seq} (before the range): {exc}"
        if before and before[0].seq == seq:
            record = before[0]
            problem = await self._anchor_problem(record)
            return (None, False, problem) if problem else (record.hash, bool(record.key_id), "")
        if seq > last or getattr(self._sink, "evicts", False):
            return None, False, ""  # past the last record, or gone from a memory ring
        return None, False, f"record {seq} missing (before the range, which it links to)"

    async def _anchor_problem(self, record: AuditRecord) -> str:
        anchor = f"record {record.seq} (before the range, which it links to)"
        # Sealed under a key this gateway lacks, it cannot be checked: link onto it as stored.
        if digest(record, self._keys) is not None and not sound(record, self._keys):
            return f"{anchor} edited: its hash does not match its contents"
        if record.key_id or not self._keys.keyed:
            return ""
        # An unkeyed anchor in a keyed gateway's log is genuine only in the unkeyed
        # prefix written before the key was set, as a full verify decides.
        keyed = await self._keyed_record_before(record.seq)
        if keyed:
            return (
                f"{anchor} has no chain key but follows keyed record {keyed}"
                " (rewritten without the key)"
            )
        return ""

    async def _keyed_record_before(self, seq: int) -> int:
        """The first keyed record before ``seq`` (0: none). Logs keyed from the
        start answer at record 1; an unkeyed prefix is read up to its end."""
        cursor = 1
        while cursor < seq:
            try:
                page = await self._sink.range(cursor, seq - 1, limit=_VERIFY_PAGE)
            except ValueError:  # an unreadable record: a full verify reports it
                cursor += 1
                continue
            if not page:
                return 0
            keyed = next((r.seq for r in page if r.key_id), 0)
            if keyed:
                return keyed
            cursor = max(r.seq for r in page) + 1
        return 0

    def watch(self) -> Subscription:
        """Subscribe now, so that a refused watch fails before its stream starts.
        Read it with ``events(keepalive_s)``; ``close()`` it when done (the
        caller may stop early: a cancelled stream)."""
        if self._writer is None:
            raise InvalidArgumentError("watch", "this reader has no writer to watch")
        return self._writer.subscribe()
