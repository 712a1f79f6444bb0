"""Redis down -> serve from memory, reconnect in the background, switch back.

The guide's recovery rule: when Redis is unreachable NovaOS logs
``[STORAGE] Redis connection failed, using in-memory fallback`` and keeps
serving; when Redis answers again it is used again. The limiter follows the
same switch (``primary_available`` / ``primary_failed``), so limits are global
again as soon as this store is.

Writes to keys that ``replay`` selects (conversation history and owner claims)
made while on memory are journalled and copied to Redis on reconnect, in
order, before reads switch back, so turns appended during an outage stay in
the history. A push is copied as made, all of its values in one script (an
exchange's question and answer stay adjacent), once per journal entry (a
retried copy never duplicates a turn); one made with an op id keeps it, so a
batch Redis ran without answering, and memory took as well, is not copied a
second time. Claims are copied with NX, so a claim Redis already holds wins and
a claim made only in memory becomes the Redis claim. A ranked set's adds (an
owner's listing index) are copied with the score they were made with: a score
only ever rises, so an add copied twice, or older than what Redis holds by then,
changes nothing, and removals are copied as made (removing twice removes nothing
more). Counters (limits, shield and spark windows) are not copied: their windows
are minutes long, and while on memory they are per process anyway.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from novaos.errors import StorageFullError, StorageRefusedError, StorageUnavailableError
from novaos.ports import (
    ExpireOp,
    KeyValueStore,
    PushOp,
    RankOp,
    SetOp,
    StoreHealth,
    StoreOp,
    UnrankOp,
)
from novaos.storage.batch import one_by_one
from novaos.storage.memory import MemoryStore
from novaos.tasks import cancel_and_wait, detached

log = logging.getLogger("novaos.storage")

FALLBACK_MESSAGE = "[STORAGE] Redis connection failed, using in-memory fallback"
RESTORED_MESSAGE = "[STORAGE] Redis connection restored, leaving in-memory fallback"
REFUSED_MESSAGE = "[STORAGE] Redis answers but refuses NovaOS; staying on the in-memory fallback"

T = TypeVar("T")
_WRITE_OPS = (SetOp, PushOp, ExpireOp, RankOp, UnrankOp)
_NAMED_MAX = 20  # conversations named in the line that reports a journal lost


class PrimaryStore(KeyValueStore, Protocol):
    """A store that can say cheaply whether it answers (Redis PING)."""

    # Whether ``batch`` applies all of its ops or none (one server's MULTI/EXEC).
    # A cluster's batch runs op by op and can fail half-way.
    atomic_batches: bool

    # The latest failure a command met (None before any): the cause logged
    # when the store switches to memory.
    last_failure: StorageUnavailableError | None

    async def ping(self) -> bool: ...

    async def check_at_start(self) -> bool:
        """Whether the primary answers; ``ConfigError`` when it never will by itself."""
        ...

    async def accepts_writes(self) -> bool:
        """Whether a write goes through: what ends an outage."""
        ...

    async def replay_push(
        self, key: str, *values: bytes, max_len: int, ttl_ms: int | None, op_id: str
    ) -> bool:
        """``list_push`` applied at most once per ``op_id``, all of ``values`` or none."""
        ...


@dataclass(frozen=True, slots=True)
class _Write:
    """One journalled write made to memory during an outage."""

    op: Literal["set", "push", "delete", "expire", "rank", "unrank"]
    keys: tuple[str, ...]
    value: bytes = b""
    deadline: float | None = None  # time.monotonic() seconds; None = no TTL
    nx: bool = False
    max_len: int = 0
    op_id: str = ""
    score: int = 0
    members: tuple[bytes, ...] = ()
    values: tuple[bytes, ...] = ()  # a push's, in order

    def ttl_ms(self, now: float) -> int | None:
        return None if self.deadline is None else math.ceil((self.deadline - now) * 1000)


def _nothing(key: str) -> bool:
    return False


def _unnamed(key: str) -> str | None:
    return None


class StorageObserver(Protocol):
    """Told when the fallback starts and ends (the Prometheus gauge implements it)."""

    def fallback_active(self, active: bool) -> None: ...


class NullStorageObserver:
    def fallback_active(self, active: bool) -> None:
        return None


class FailoverStore:
    """``KeyValueStore`` that prefers ``primary`` and falls back to memory."""

    def __init__(
        self,
        primary: PrimaryStore,
        *,
        fallback: MemoryStore | None = None,
        min_backoff_s: float = 0.1,
        max_backoff_s: float = 2.0,
        observer: StorageObserver | None = None,
        replay: Callable[[str], bool] = _nothing,
        journal_max: int | None = None,
        conversation_of: Callable[[str], str | None] = _unnamed,
    ) -> None:
        self._primary = primary
        self._replay_key = replay
        self._conversation_of = conversation_of  # names what a journal lost at close
        self._journal: deque[_Write] = deque()
        self._journal_max = journal_max
        self.backend = primary.backend
        self._fallback = fallback if fallback is not None else MemoryStore()
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self._observer = observer or NullStorageObserver()
        self._in_fallback = False
        self._cause = ""  # why the store is on memory, while it is
        self._recoveries = 0
        self._recovered: list[Callable[[], None]] = []
        self._reconnect: asyncio.Task[None] | None = None

    @property
    def primary(self) -> PrimaryStore:
        return self._primary

    @property
    def fallback(self) -> MemoryStore:
        return self._fallback

    @property
    def primary_available(self) -> bool:
        return not self._in_fallback

    @property
    def recoveries(self) -> int:
        """How many times the store has switched back to the primary."""
        return self._recoveries

    def on_recovery(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` each time the store switches back to the primary."""
        self._recovered.append(callback)

    def primary_failed(self) -> None:
        """Switch to memory (once per outage) and start probing the primary."""
        if self._in_fallback:
            return
        self._in_fallback = True
        failure = self._primary.last_failure
        self._cause = str(failure) if failure is not None else "unknown"
        log.warning(FALLBACK_MESSAGE, extra={"cause": self._cause})
        self._observer.fallback_active(True)
        self._reconnect = detached(self._reconnect_loop(), name="redis-reconnect")

    async def connect(self) -> None:
        """Probe once at start so an absent Redis is reported at boot, not on first use.
        One that refuses NovaOS (credentials, TLS certificate) stops start-up instead."""
        if not await self._primary.check_at_start():
            self.primary_failed()

    @property
    def journal_size(self) -> int:
        """Writes waiting to be copied to Redis."""
        return len(self._journal)

    async def _reconnect_loop(self) -> None:
        delay = self._min_backoff_s
        while True:
            await asyncio.sleep(delay)
            try:
                # Not a PING: a full Redis (noeviction) or a read-only replica answers
                # one, and switching back to it would only fail the next write again.
                if await self._primary.accepts_writes() and await self._replay():
                    break
                self._note_failure()
            except Exception:  # e.g. LOADING or NOAUTH on the ping: this task must not end
                log.exception("[STORAGE] probing Redis failed; retrying")
            delay = min(delay * 2, self._max_backoff_s)
        # _replay returned with an empty journal and nothing awaited since, so no
        # write can land in memory between the last copy and the switch.
        # Memory-held data would resurface at the next outage as stale state.
        self._fallback.clear()
        self._in_fallback = False
        self._recoveries += 1
        self._reconnect = None
        log.info(RESTORED_MESSAGE)
        self._observer.fallback_active(False)
        for callback in self._recovered:
            callback()

    def _note_failure(self) -> None:
        """Keep the cause ``health`` gives current; log a refusal (a password Redis
        started to require, a certificate that changed) once, when it begins: no
        reconnect ends it until REDIS_URL or the server changes."""
        failure = self._primary.last_failure
        if failure is None or str(failure) == self._cause:
            return
        self._cause = str(failure)
        if isinstance(failure, StorageRefusedError):
            log.warning(REFUSED_MESSAGE, extra={"cause": self._cause})

    async def _replay(self) -> bool:
        """Copy the journal to the primary, oldest first; False if it failed again."""
        copied = 0
        while self._journal:
            write = self._journal[0]  # new writes only ever join the tail
            try:
                await self._copy(write)
            except Exception as exc:  # down again, a read-only replica, OOM: retry later
                # Anything else would end the reconnect task and leave this process
                # on memory (per-process limits and history) until a restart.
                log.warning(
                    "[STORAGE] Redis failed while copying the outage journal back (%s); "
                    "%d writes copied, %d waiting",
                    type(exc).__name__,
                    copied,
                    len(self._journal),
                )
                return False
            self._journal.popleft()
            copied += 1
        if copied:
            log.info("[STORAGE] copied %d writes made during the outage back to Redis", copied)
        return True

    async def _copy(self, write: _Write) -> None:
        ttl_ms = write.ttl_ms(time.monotonic())
        if ttl_ms is not None and ttl_ms <= 0:
            return  # it would have expired in Redis by now as well
        primary, key = self._primary, write.keys[0]
        if write.op == "push":
            await primary.replay_push(
                key, *write.values, max_len=write.max_len, ttl_ms=ttl_ms, op_id=write.op_id
            )
        elif write.op == "delete":
            await primary.delete(*write.keys)
        elif write.op == "expire":
            assert ttl_ms is not None  # journalled with the deadline it sets
            await primary.expire(key, ttl_ms)  # owner or value untouched, in Redis too
        elif write.op == "rank":
            await primary.ranked_add(
                key, write.value, write.score, max_len=write.max_len, ttl_ms=ttl_ms
            )
        elif write.op == "unrank":
            await primary.ranked_remove(key, *write.members)
        elif not await primary.set(key, write.value, ttl_ms=ttl_ms, nx=write.nx):
            held = await primary.get(key)
            if held != write.value:  # e.g. another user's claim from before the outage
                log.warning("[STORAGE] %s was set in Redis before the outage; kept that", key)

    def _journal_room(self, writes: int = 1) -> None:
        if self._journal_max is not None and len(self._journal) + writes > self._journal_max:
            raise StorageFullError(
                f"{len(self._journal)} writes are waiting for Redis to come back "
                "(MEMORY_STORE_MAX_KEYS); refusing more rather than losing them"
            )

    def check_room(self, key: str, writes: int) -> None:
        if self._in_fallback and self._replay_key(key):
            self._journal_room(writes)

    async def _call(
        self, op: Callable[[KeyValueStore], Awaitable[T]], write: _Write | None = None
    ) -> T:
        if not self._in_fallback:
            try:
                return await op(self._primary)
            except StorageUnavailableError:
                self.primary_failed()
        if write is None:
            return await op(self._fallback)
        self._journal_room()
        result = await op(self._fallback)  # memory ops never await: atomic with the append
        if result is not False:  # a SET NX that lost changed nothing
            self._journal.append(write)
        return result

    def _journalled(self, write: _Write) -> _Write | None:
        return write if self._replay_key(write.keys[0]) else None

    @staticmethod
    def _deadline(ttl_ms: int | None) -> float | None:
        return None if ttl_ms is None else time.monotonic() + ttl_ms / 1000

    async def get(self, key: str) -> bytes | None:
        return await self._call(lambda s: s.get(key))

    async def set(
        self, key: str, value: bytes, *, ttl_ms: int | None = None, nx: bool = False
    ) -> bool:
        write = _Write("set", (key,), bytes(value), self._deadline(ttl_ms), nx=nx)
        return await self._call(
            lambda s: s.set(key, value, ttl_ms=ttl_ms, nx=nx), self._journalled(write)
        )

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        write = _Write("delete", keys) if any(self._replay_key(k) for k in keys) else None
        return await self._call(lambda s: s.delete(*keys), write)

    async def incr(self, key: str, amount: int = 1, *, ttl_ms: int | None = None) -> int:
        return await self._call(lambda s: s.incr(key, amount, ttl_ms=ttl_ms))

    async def list_push(
        self,
        key: str,
        *values: bytes,
        max_len: int,
        ttl_ms: int | None = None,
        op_id: str = "",
    ) -> None:
        # The caller's op id, when it gave one, is the one the copy back sends: a
        # push Redis ran without answering (so memory took it too) is not copied
        # twice. Its values stay one write, copied back together.
        write = _Write(
            "push",
            (key,),
            deadline=self._deadline(ttl_ms),
            max_len=max_len,
            op_id=op_id or uuid.uuid4().hex,
            values=tuple(bytes(v) for v in values),
        )
        await self._call(
            lambda s: s.list_push(key, *values, max_len=max_len, ttl_ms=ttl_ms, op_id=op_id),
            self._journalled(write),
        )

    async def list_range(self, key: str, start: int = 0, end: int = -1) -> list[bytes]:
        return await self._call(lambda s: s.list_range(key, start, end))

    async def expire(self, key: str, ttl_ms: int) -> bool:
        write = _Write("expire", (key,), deadline=self._deadline(ttl_ms))
        return await self._call(lambda s: s.expire(key, ttl_ms), self._journalled(write))

    async def list_len(self, key: str) -> int:
        return await self._call(lambda s: s.list_len(key))

    async def ranked_add(
        self, key: str, member: bytes, score: int, *, max_len: int, ttl_ms: int | None = None
    ) -> None:
        write = _Write(
            "rank", (key,), bytes(member), self._deadline(ttl_ms), max_len=max_len, score=score
        )
        await self._call(
            lambda s: s.ranked_add(key, member, score, max_len=max_len, ttl_ms=ttl_ms),
            self._journalled(write),
        )

    async def ranked_top(
        self, key: str, count: int, *, min_score: int | None = None
    ) -> list[bytes]:
        return await self._call(lambda s: s.ranked_top(key, count, min_score=min_score))

    async def ranked_remove(self, key: str, *members: bytes) -> int:
        # Journalled even when memory had none of them (0 is not False): Redis may.
        write = _Write("unrank", (key,), members=tuple(bytes(m) for m in members))
        return await self._call(lambda s: s.ranked_remove(key, *members), self._journalled(write))

    async def batch(self, ops: Sequence[StoreOp]) -> list[object]:
        if self._primary.atomic_batches and not self._in_fallback:
            try:
                return await self._primary.batch(ops)
            except StorageUnavailableError:
                # A failed MULTI/EXEC applied nothing, or all of it if only its reply
                # was lost (Redis ran it late): all of it goes to memory. Pushes with
                # an op id are then not copied back twice.
                self.primary_failed()
        # Op by op, each failing over on its own: a batch the primary cannot apply
        # whole never has its first ops applied twice (there and on memory, then
        # copied back). On memory each write is journalled as if made alone, and no
        # memory op awaits, so no other task runs between them.
        if self._in_fallback:
            # Refused whole, before any op runs: an exchange's turns stored without
            # the metadata that makes them visible would surface with a later turn,
            # after its caller was told they were not stored.
            self._journal_room(sum(1 for op in ops if self._journals(op)))
        return await one_by_one(self, ops)

    def _journals(self, op: StoreOp) -> bool:
        """Whether ``op`` takes a journal entry on memory (a losing SET NX, which
        takes none, is counted too)."""
        return isinstance(op, _WRITE_OPS) and self._replay_key(op.key)

    async def health(self) -> StoreHealth:
        if not self._in_fallback:
            health = await self._primary.health()
            if health.status == "ok":
                return health
            self.primary_failed()
        return StoreHealth(backend=self.backend, status="fallback", cause=self._cause)

    def _lost(self) -> str:
        """What the journal holds: the turns per conversation (the oldest first),
        and how many other writes (listing index updates, burned ack nonces)."""
        turns: dict[str, int] = {}
        others = 0
        for write in self._journal:
            conversation = self._conversation_of(write.keys[0])
            if conversation is None:
                others += 1
            else:
                turns[conversation] = turns.get(conversation, 0) + len(write.values)
        named = ", ".join(f"{c} ({n})" for c, n in list(turns.items())[:_NAMED_MAX])
        if len(turns) > _NAMED_MAX:
            named += f", and {len(turns) - _NAMED_MAX} more"
        plural = "" if len(turns) == 1 else "s"
        lost = f"{sum(turns.values())} turns of {len(turns)} conversation{plural}"
        return f"{lost} ({named or 'none'}), {others} other writes"

    async def aclose(self) -> None:
        task, self._reconnect = self._reconnect, None
        if task is not None:
            # Its own cancel is not raised; a cancel of aclose still is.
            await cancel_and_wait(task)
        if self._journal:
            # Memory only: a restart before Redis is back loses them. Said as what
            # users lose, for the operator who finds this line afterwards.
            log.warning(
                "[STORAGE] closing with %d outage writes not copied to Redis, lost: %s",
                len(self._journal),
                self._lost(),
            )
            self._journal.clear()
        await self._primary.aclose()
        await self._fallback.aclose()
