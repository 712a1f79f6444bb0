"""Conversation history: the last N turns per conversation, visible to its owner only.

Keys live under the owner (``nova:conv:{owner}:...``), so one user can never
address another's conversation: a foreign id is simply "not found", whether
or not it exists elsewhere. The owner is also recorded in the metadata and
checked, so a key-layout mistake cannot leak history. The ``{owner}`` hash tag
keeps one owner's keys in one Redis Cluster slot.

``conversation_key_group`` tells the storage layer which keys are history: the
in-memory store may evict them (one conversation at a time, least recently used
first) and the Redis failover copies them back to Redis after an outage. Every
other key (limit counters, nonces) is neither evicted nor copied.

Listing reads an index per owner (``nova:conv:{owner}:recent``, a ranked set:
a Redis sorted set) that every write ranks by its time in milliseconds, in the
same batch as the turns. A page costs its own size: the ids at the top of the
index, then the metadata, turn count and claim of those only. It lists what
``get`` finds: not an id whose claim another owner holds, nor during an outage
one that memory does not hold whole. Conversations updated in the same
millisecond are listed by id, greatest first. The index keeps an owner's
``_INDEX_MAX`` most recently updated conversations.

During a Redis outage the store answers from memory, which starts empty and holds
only what was written since (``StoreFallback``). A conversation id the client names
is then answered only if memory holds the whole conversation: claimed by the
caller in memory and, if it has turns, begun during the outage (its metadata says
``whole``). Any other id may have history and an owner in Redis, out of reach, so
it is refused with ``HistoryUnavailableError`` rather than read as new: continued
without its earlier turns, the shield would not see a crisis stated in them, and
claimed in memory, it would be taken from its owner until Redis is back. The one
write whose read came from Redis and whose write reached memory (a request in
flight when Redis went away) leaves a conversation memory holds only part of,
refused just the same. A read Redis failed part-way through (a cluster's batch
runs op by op) is made again from memory alone, never judged on answers from both.

Memory-only (no Redis), the store evicts whole conversations past its key cap,
least recently used first. The same rule holds: an id the store cannot vouch
for is refused, not read as new. An evicted conversation's owner claim is left
as a tombstone (``conversation_tombstone``) until the claim's own deadline: its
owner is told the conversation expired (``NotFoundError``, as ``get`` says of
one past its TTL), anyone else gets NOT_FOUND as for any other owner's id, and
nobody can claim it. Past that deadline the id is free, as one whose TTL ran out.

Earlier releases kept a list of ids in creation order under ``:index`` (a new
name, since a list cannot take sorted-set commands). The first listing that
finds such a list moves its live conversations into the ranked index, with
their last update times, and deletes it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import cast

from novaos.errors import HistoryUnavailableError, InvalidArgumentError, NotFoundError
from novaos.limits.model import subject_tag
from novaos.ports import (
    ChatMessage,
    ExpireOp,
    GetOp,
    KeyValueStore,
    LenOp,
    OpenedTurn,
    PushOp,
    RangeOp,
    RankOp,
    SetOp,
    StoreFallback,
    StoreOp,
    TopOp,
    TurnEnding,
)

# A conversation id, as the chat RPCs and the conversation RPCs alike accept it.
CONVERSATION_ID = re.compile(r"\A[A-Za-z0-9_-]{1,128}\Z")  # \Z: "$" would pass "id\n"
CONVERSATION_ID_RULE = "use up to 128 letters, digits, '-' or '_'"
_INDEX_MAX = 1000  # conversations remembered per owner for listing
_LIST_PAGE = 200  # conversations read per store batch when listing
_ROLES = frozenset({"user", "assistant", "system"})
# Writes ``append_turns`` makes for an id ``opened`` as ours (the claim's NX and
# TTL, the turns, the metadata, the index), and ``claim_turn`` before it.
_EXCHANGE_WRITES = 5
_CLAIM_WRITES = 1
_CONVERSATION_KEY = re.compile(r"^nova:conv:\{[^{}]*\}:([A-Za-z0-9._-]{1,128}):(?:meta|turns)$")
_CLAIM_KEY = re.compile(r"^nova:convowner:\{([A-Za-z0-9._-]{1,128})\}$")
# ``recent``: the listing index; ``index``: its predecessor, until a listing moves it.
_INDEX_KEY = re.compile(r"^nova:conv:(\{[^{}]*\}):(?:recent|index)$")


def conversation_key_group(key: str) -> str | None:
    """The unit a history key is evicted with, or None for keys that are not history.

    A conversation's metadata, turns and owner claim share one group (its id), so
    a claim is never evicted while the history it protects is kept. An owner's
    listing index is a group of its own (losing it only shortens the listing).
    """
    if match := _CONVERSATION_KEY.match(key) or _CLAIM_KEY.match(key):
        return f"conv:{match.group(1)}"
    if match := _INDEX_KEY.match(key):
        return f"index:{match.group(1)}"
    return None


def conversation_of_key(key: str) -> str | None:
    """The conversation id a metadata, turns or claim key belongs to, else None."""
    match = _CONVERSATION_KEY.match(key) or _CLAIM_KEY.match(key)
    return match.group(1) if match else None


# What an evicted claim holds: not UTF-8, so no owner's id reads as it.
_EVICTED = b"\xffevicted:"


def conversation_tombstone(key: str, value: bytes) -> bytes | None:
    """What an evicted key leaves behind: an owner claim stays, marked evicted,
    so the id is neither read as a new conversation nor claimed by another user."""
    if _CLAIM_KEY.match(key) and not value.startswith(_EVICTED):
        return _EVICTED + value
    return None


def is_conversation_key(key: str) -> bool:
    return conversation_key_group(key) is not None


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    text: str
    created_at_unix: int
    outcome: str = ""  # an assistant turn's: how its stream ended ("" before it was kept)
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    conversation_id: str
    turn_count: int
    updated_at_unix: int


@dataclass(frozen=True, slots=True)
class Conversation:
    conversation_id: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True, slots=True)
class _Found:
    """One read of a conversation: its metadata (None: not the owner's, or
    none), its turns, whether the owner holds the id's claim, and the outage
    whose memory fallback answered (None: the shared store did)."""

    meta: dict[str, object] | None
    turns: tuple[Turn, ...]
    ours: bool
    outage: int | None


class ConversationHistory:
    """Domain service over ``KeyValueStore`` (Redis, cluster, memory, failover)."""

    def __init__(
        self,
        store: KeyValueStore,
        *,
        max_turns: int,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
        fallback: StoreFallback | None = None,
    ) -> None:
        """``fallback``: the outage state of ``store`` when it can fall back to
        memory (a ``FailoverStore``, itself); None for a store that cannot."""
        self._store = store
        self._max_turns = max_turns
        self._ttl_ms = ttl_s * 1000
        self._clock = clock
        self._fallback = fallback

    def _outage(self) -> int | None:
        """The outage's number while the store answers from memory, else None.
        Asked right after a read, with no await between: memory answers without
        one, so no switch back can come between its answer and this."""
        if self._fallback is None or self._fallback.primary_available:
            return None
        return self._fallback.recoveries

    def _source(self) -> tuple[bool, int] | None:
        """What answers reads now: it changes with every switch, either way."""
        if self._fallback is None:
            return None
        return self._fallback.primary_available, self._fallback.recoveries

    async def _read_one_store(self, ops: Sequence[StoreOp]) -> tuple[list[object], int | None]:
        """The answers to the reads ``ops``, all from one store, and the outage whose
        memory gave them (None: the shared store did).

        A cluster's batch runs op by op, so Redis can fail between two of them: the
        first answers from Redis (a claim of the caller's, metadata copied back from
        an earlier outage that says "whole"), the rest from memory (no turns). Taken
        together they would pass a conversation as held whole with none of its turns.
        Such a read is made again, then from memory alone: memory answers without
        awaiting, so the store cannot switch during it."""
        for _ in range(2):
            before = self._source()
            found = await self._store.batch(ops)
            if self._source() == before:
                return found, self._outage()
        raise HistoryUnavailableError(  # the store switched twice in one read
            "conversation history is unavailable while storage is degraded; retry later"
        )

    @staticmethod
    def validate_id(conversation_id: str) -> str:
        if not CONVERSATION_ID.match(conversation_id):
            raise InvalidArgumentError("conversation_id", CONVERSATION_ID_RULE)
        return conversation_id

    def _keys(self, owner: str, conversation_id: str) -> tuple[str, str]:
        base = f"nova:conv:{{{subject_tag(owner)}}}:{conversation_id}"
        return f"{base}:meta", f"{base}:turns"

    @staticmethod
    def _claim_key(conversation_id: str) -> str:
        return f"nova:convowner:{{{conversation_id}}}"

    def _check_claim(self, owner: str, conversation_id: str, holder: object) -> None:
        """A conversation id belongs to whoever used it first; to anyone else it
        is NOT_FOUND (the reference let any user write into another's). Its owner
        is told when the store evicted it (memory-only mode)."""
        if holder == _EVICTED + owner.encode():
            raise _evicted(conversation_id)
        if _foreign(owner, holder):
            raise _not_found(conversation_id)

    def _index_key(self, owner: str) -> str:
        return f"nova:conv:{{{subject_tag(owner)}}}:recent"

    def _legacy_index_key(self, owner: str) -> str:
        """Where earlier releases listed an owner's ids, in creation order."""
        return f"nova:conv:{{{subject_tag(owner)}}}:index"

    async def append(self, owner: str, conversation_id: str, role: str, text: str) -> None:
        """Record one turn; the first turn creates the conversation for ``owner``."""
        await self.append_turns(owner, conversation_id, ((role, text),))

    async def append_turns(
        self,
        owner: str,
        conversation_id: str,
        turns: Sequence[tuple[str, str]],
        *,
        opened: OpenedTurn | None = None,
        ending: TurnEnding | None = None,
        asked_at: float | None = None,
    ) -> None:
        """Record ``(role, text)`` turns in order, with one ownership check and one
        metadata write for all of them (a request's question and answer).
        ``ending`` (how the answer's stream ended) is stored with its assistant turn.
        ``asked_at`` (the request's start, unix seconds) is the time of its user
        turns; the others are stamped with the time of this write (the answer's end).

        Two store batches (two round trips to one Redis server): the claim and
        the metadata, then the writes. One batch when ``opened`` (what
        ``open_turn`` found at the start of the request) says the id was ours
        then: a continued conversation, or a new id the server generated.

        The claim is not checked again in that batch; it is refreshed with NX, so
        it is never taken from another owner. Should it have changed hands in
        between (it expired during the request and someone claimed the id), the
        turns still land under the caller's own keys, which the next read
        answers with NOT_FOUND: nothing crosses owners.

        The turns are one push, so they are stored adjacent and in order on every
        store: on a cluster, whose batches run op by op, two pushes let another
        request's turns land between a question and its answer. The push carries
        an id made for this call, so the exchange is stored once even when the
        write is sent twice: a Redis that stalls past the command timeout still
        runs the transaction queued on the socket, and redis-py's retry (or the
        memory fallback's copy back) sends it again.

        During an outage, without ``opened``, the id is read first (``open_turn``,
        which refuses one memory cannot vouch for): claimed blind in memory, it
        could be another owner's in Redis."""
        self.validate_id(conversation_id)
        if any(role not in _ROLES for role, _ in turns):
            raise InvalidArgumentError("role", "must be user, assistant or system")
        if (opened is None or not opened.ours) and self._outage() is not None:
            opened = await self.open_turn(owner, conversation_id)
            opened = await self.claim_turn(owner, conversation_id, opened)
        meta_key, turns_key = self._keys(owner, conversation_id)
        clock = self._clock()
        now = int(clock)
        asked = now if asked_at is None else min(int(asked_at), now)
        # Claimed on every write, not only the first: an id whose claim expired is
        # claimed again, and history copied back after a Redis outage under a claim
        # another user held in Redis all along stays read-only and NOT_FOUND.
        claim, mine = self._claim_key(conversation_id), owner.encode()
        writes: list[StoreOp] = []
        created: object = None
        whole = False
        if opened is not None and opened.ours:
            created, whole = opened.created, self._whole(opened)
            writes += self._refresh_claim(claim, mine)
        else:
            claimed, raw_meta, holder = await self._store.batch(
                (SetOp(claim, mine, self._ttl_ms, nx=True), GetOp(meta_key), GetOp(claim))
            )
            if not claimed:
                self._check_claim(owner, conversation_id, holder)
                writes += self._refresh_claim(claim, mine)
            created = (_owned_meta(owner, raw_meta) or {}).get("created")
        if turns:
            at = {"user": asked}  # the question when asked, the answer when it ended
            stored = tuple(_encode(role, text, at.get(role, now), ending) for role, text in turns)
            op_id = uuid.uuid4().hex
            writes.append(PushOp(turns_key, stored, self._max_turns, self._ttl_ms, op_id=op_id))
        # No turn count here: it is the list's length, so copying an outage's
        # turns back to Redis cannot leave a stale count behind.
        record = {"owner": owner, "created": asked if created is None else created, "updated": now}
        if whole:
            record["whole"] = True
        writes.append(SetOp(meta_key, json.dumps(record).encode(), self._ttl_ms))
        # Ranked by this write, new or not: the listing reads only the top of the index.
        rank = RankOp(
            self._index_key(owner), conversation_id.encode(), _ms(clock), _INDEX_MAX, self._ttl_ms
        )
        writes.append(rank)
        await self._store.batch(writes)

    def _whole(self, opened: OpenedTurn) -> bool:
        """Whether the turns list this write lands on holds every earlier turn,
        should it land in memory: there were none, or they were read from memory
        during this same outage (memory is emptied when an outage ends). A read
        from Redis whose write lands in memory (Redis went away in between)
        leaves memory a part only; the next read during the outage refuses it."""
        if not opened.messages:
            return True
        return opened.outage is not None and opened.outage == self._outage()

    def _refresh_claim(self, claim: str, mine: bytes) -> tuple[StoreOp, ...]:
        """Keep our claim as long as the conversation, which every write extends
        (claimed once and never refreshed, an active conversation's id would
        become free to another user TTL after its first turn). NX, then the TTL:
        a refresh made on memory during an outage and copied back later must
        never replace a claim another user holds in Redis, but must recreate
        ours where Redis has none (it expired since it was checked, the outage
        outlasted the journalled claim, or Redis went away after the check and
        memory never held it)."""
        return (SetOp(claim, mine, self._ttl_ms, nx=True), ExpireOp(claim, self._ttl_ms))

    async def open_turn(self, owner: str, conversation_id: str) -> OpenedTurn:
        """A chat request's read of a conversation id the client named: claim,
        metadata and turns in one batch, nothing written (a request refused
        after this, by the limits say, leaves no trace). The request's write is
        then one batch when the id was already the caller's.

        Raises ``NotFoundError`` for another owner's conversation, and during a
        Redis outage ``HistoryUnavailableError`` for one memory does not hold whole."""
        found = await self._read(owner, conversation_id)
        if found.meta is None:
            return OpenedTurn((), None, found.ours, found.outage)
        messages = tuple(ChatMessage(role=t.role, content=t.text) for t in found.turns)
        return OpenedTurn(messages, int(str(found.meta["created"])), found.ours, found.outage)

    def check_room(self, owner: str, conversation_id: str, opened: OpenedTurn) -> None:
        """Raise ``StorageFullError`` if the store already knows it would refuse
        this request's writes (the claim of an id not yet ``opened`` as ours, then
        the exchange): checked before the request is admitted, so a request whose
        answer could not be kept is refused before the model runs, not after."""
        writes = _EXCHANGE_WRITES + (0 if opened.ours else _CLAIM_WRITES)
        self._store.check_room(self._keys(owner, self.validate_id(conversation_id))[1], writes)

    async def claim_turn(self, owner: str, conversation_id: str, opened: OpenedTurn) -> OpenedTurn:
        """Claim a named id nobody held when ``open_turn`` read it, once the
        request is admitted (a refused request leaves no trace): of two users who
        name the same new id at once, the second is told NOT_FOUND before its
        answer is generated, not after. One batch; the write then checks nothing.

        Raises ``NotFoundError`` when another owner claimed the id in between."""
        if opened.ours:
            return opened
        claim = self._claim_key(self.validate_id(conversation_id))
        claimed, holder = await self._store.batch(
            (SetOp(claim, owner.encode(), self._ttl_ms, nx=True), GetOp(claim))
        )
        if not claimed:
            self._check_claim(owner, conversation_id, holder)
        return replace(opened, ours=True)

    async def history(self, owner: str, conversation_id: str) -> tuple[ChatMessage, ...]:
        """The stored turns as model input; empty for a new conversation.

        Raises ``NotFoundError`` for another owner's conversation."""
        return (await self.open_turn(owner, conversation_id)).messages

    async def _read(self, owner: str, conversation_id: str) -> _Found:
        """Claim, metadata and turns in one batch; no metadata when ``owner`` has
        no such conversation, ``NotFoundError`` when another owner claimed the id.

        During an outage, ``HistoryUnavailableError`` unless memory holds the
        conversation whole: an id memory has no claim of the caller's on may
        have turns and an owner in Redis, and one written there only by a
        request in flight when Redis went away has its earlier turns in Redis."""
        meta_key, turns_key = self._keys(owner, self.validate_id(conversation_id))
        # The last ``max_turns`` only: a list written under a larger CONVERSATION_MAX_TURNS
        # (before the operator lowered it, or by a replica not yet updated) is cut
        # to it at its next write, and until then must not be sent or shown whole.
        latest = RangeOp(turns_key, -self._max_turns, -1)
        (holder, raw_meta, raw_turns), outage = await self._read_one_store(
            (GetOp(self._claim_key(conversation_id)), GetOp(meta_key), latest)
        )
        self._check_claim(owner, conversation_id, holder)
        meta, ours = _owned_meta(owner, raw_meta), holder == owner.encode()
        if outage is not None and not (ours and _whole(meta)):
            raise _unavailable(conversation_id)
        turns = () if meta is None else _parse_turns(cast(list[bytes], raw_turns))
        return _Found(meta, turns, ours, outage)

    async def get(self, owner: str, conversation_id: str) -> Conversation:
        found = await self._read(owner, conversation_id)
        if found.meta is None:
            raise _not_found(conversation_id)
        return Conversation(conversation_id, found.turns)

    async def list(self, owner: str, *, limit: int = 100) -> tuple[ConversationSummary, ...]:
        """The ``limit`` most recently updated, newest first (ties: id, greatest first).

        Two batches: the top ``limit`` ids of the index, then their metadata and
        turn counts. Ids ranked longer than the TTL ago (their conversations have
        expired) are not read at all; ids whose metadata is gone anyway (evicted
        from memory, or deleted by a call that failed before it left the index)
        are skipped and the index read again, twice as far down each time: at
        most ``_INDEX_MAX`` metadata reads in all, in ~log2(_INDEX_MAX / limit)
        more rounds."""
        if limit <= 0:
            return ()
        index, since = self._index_key(owner), _ms(self._clock()) - self._ttl_ms
        count = min(limit, _INDEX_MAX)
        ids, legacy = await self._store.batch(
            (TopOp(index, count, since), LenOp(self._legacy_index_key(owner)))
        )
        if legacy:
            await self._adopt_legacy_index(owner)
            ids = await self._store.ranked_top(index, count, min_score=since)
        found: list[ConversationSummary] = []
        seen: set[bytes] = set()
        while True:
            ranked = cast(list[bytes], ids)
            fresh = [i.decode() for i in ranked if i not in seen]
            seen.update(ranked)
            found += await self._summaries(owner, fresh)
            if len(found) >= limit or len(ranked) < count or count >= _INDEX_MAX:
                return tuple(found[:limit])
            count = min(count * 2, _INDEX_MAX)
            # From the top again: a write since the last read may have moved an id up.
            ids = await self._store.ranked_top(index, count, min_score=since)

    async def _summaries(
        self, owner: str, conversation_ids: Sequence[str]
    ) -> tuple[ConversationSummary, ...]:
        """Each id's summary, in order; ids ``get`` would not answer are left out:
        no metadata of ``owner``'s, another owner's claim (turns a write left
        under the caller's keys after the id changed hands), or during an outage
        one memory does not hold whole."""
        summaries: list[ConversationSummary] = []
        for at in range(0, len(conversation_ids), _LIST_PAGE):
            chunk = conversation_ids[at : at + _LIST_PAGE]
            ops: list[StoreOp] = []
            for conversation_id in chunk:
                meta_key, turns_key = self._keys(owner, conversation_id)
                ops += (GetOp(meta_key), LenOp(turns_key), GetOp(self._claim_key(conversation_id)))
            found, outage = await self._read_one_store(ops)
            for conversation_id, raw_meta, count, holder in zip(
                chunk, found[::3], found[1::3], found[2::3], strict=True
            ):
                meta = _owned_meta(owner, raw_meta)
                if meta is None or _foreign(owner, holder):
                    continue
                if outage is not None and not (holder == owner.encode() and _whole(meta)):
                    continue
                updated = int(str(meta["updated"]))
                turns = min(cast(int, count), self._max_turns)  # as many as ``get`` returns
                summaries.append(ConversationSummary(conversation_id, turns, updated))
        return tuple(summaries)

    async def _adopt_legacy_index(self, owner: str) -> None:
        """Move an earlier release's index (a list in creation order) into the ranked
        one: its live conversations are ranked by their last update (never lower
        than a write since has ranked them), then the list is deleted. A replica
        of an earlier release still running (a rolling update) may push to the
        list again; the next listing moves those too."""
        legacy = self._legacy_index_key(owner)
        ids = list(dict.fromkeys(i.decode() for i in await self._store.list_range(legacy)))
        index, ranks = self._index_key(owner), list[StoreOp]()
        for live in await self._summaries(owner, ids):
            member, score = live.conversation_id.encode(), live.updated_at_unix * 1000
            ranks.append(RankOp(index, member, score, _INDEX_MAX, self._ttl_ms))
        if ranks:
            await self._store.batch(ranks)
        await self._store.delete(legacy)

    async def delete(self, owner: str, conversation_id: str) -> None:
        """Raises ``NotFoundError`` for a conversation ``get`` does not find (none,
        or another owner's claim), and during a Redis outage
        ``HistoryUnavailableError`` for one memory has no claim of the caller's on
        (it may be in Redis: memory cannot tell, so cannot say)."""
        meta_key, turns_key = self._keys(owner, self.validate_id(conversation_id))
        (holder, raw_meta), outage = await self._read_one_store(
            (GetOp(self._claim_key(conversation_id)), GetOp(meta_key))
        )
        self._check_claim(owner, conversation_id, holder)
        if outage is not None and holder != owner.encode():
            raise _unavailable(conversation_id)
        if _owned_meta(owner, raw_meta) is None:
            raise _not_found(conversation_id)
        await self._store.delete(meta_key, turns_key)
        # After the keys: should this fail, the listing skips an id with no metadata.
        await self._store.ranked_remove(self._index_key(owner), conversation_id.encode())


def _not_found(conversation_id: str) -> NotFoundError:
    """One text whether the id is unused or another owner's, so the answer tells
    the two apart no more than the status does."""
    return NotFoundError(f"conversation {conversation_id!r} not found")


def _evicted(conversation_id: str) -> NotFoundError:
    """To its owner: gone for good, as one past its TTL, but said so (their client
    still holds the id): continued as new, the shield would not see its turns."""
    return NotFoundError(
        f"conversation {conversation_id!r} has expired: the gateway dropped it to make room "
        "for others; start a new conversation without a conversation_id"
    )


def _unavailable(conversation_id: str) -> HistoryUnavailableError:
    return HistoryUnavailableError(
        f"the history of conversation {conversation_id!r} is unavailable while storage is "
        "degraded; retry later, or start a new conversation without a conversation_id"
    )


def _foreign(owner: str, holder: object) -> bool:
    """Whether a claim read from the store is another owner's (None: unclaimed)."""
    return isinstance(holder, bytes) and holder != owner.encode()


def _whole(meta: dict[str, object] | None) -> bool:
    """Whether memory holds every turn of a conversation whose memory metadata this
    is (None: claimed during the outage, nothing written yet)."""
    return meta is None or meta.get("whole") is True


def _owned_meta(owner: str, raw: object) -> dict[str, object] | None:
    """The metadata if it is there and names ``owner``."""
    if not isinstance(raw, bytes):
        return None
    meta = json.loads(raw)
    if not isinstance(meta, dict) or meta.get("owner") != owner:
        return None
    return meta


def _ms(clock: float) -> int:
    """A clock reading (seconds) as the index ranks it."""
    return int(clock * 1000)


def _encode(role: str, text: str, at: int, ending: TurnEnding | None) -> bytes:
    turn: dict[str, object] = {"role": role, "text": text, "at": at}
    if ending is not None and role == "assistant":
        turn["outcome"] = ending.outcome
        if ending.detail:
            turn["detail"] = ending.detail
    return json.dumps(turn).encode()


def _parse_turns(raw: list[bytes]) -> tuple[Turn, ...]:
    parsed = (json.loads(item) for item in raw)
    return tuple(
        Turn(
            str(p["role"]),
            str(p["text"]),
            int(p["at"]),
            str(p.get("outcome", "")),  # turns stored before it was kept have none
            str(p.get("detail", "")),
        )
        for p in parsed
    )
