"""Redis adapters for ``KeyValueStore``: one server (``REDIS_URL``) or a cluster.

Every connectivity failure, and a server refusing writes, is translated to
``StorageUnavailableError`` so the failover wrapper (and the limiter) can
switch to memory without knowing redis.
Commands that touch one key only, so Redis Cluster routes each by its slot.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast
from urllib.parse import SplitResult, unquote, urlsplit

import redis.asyncio as aioredis
import redis.exceptions as rexc
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from novaos.errors import ConfigError, StorageRefusedError, StorageUnavailableError
from novaos.ports import (
    ExpireOp,
    GetOp,
    LenOp,
    PushOp,
    RangeOp,
    RankOp,
    SetOp,
    StoreHealth,
    StoreOp,
    TopOp,
    UnrankOp,
)
from novaos.storage.batch import one_by_one

# Failures that mean "Redis is not there", as opposed to a bug in our command.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    rexc.ConnectionError,
    rexc.TimeoutError,
    rexc.ClusterDownError,
    rexc.TryAgainError,
    rexc.ClusterError,
    OSError,
    TimeoutError,
    # A server that answers but refuses writes serves NovaOS no better than one
    # that is gone: full under noeviction (OOM), a replica after a failover
    # (READONLY). MISCONF (a failed RDB save) and NOREPLICAS (too few replicas
    # for min-replicas-to-write) come as plain ResponseErrors: _REFUSING_WRITES.
    rexc.OutOfMemoryError,
    rexc.ReadOnlyError,
)

# Error codes redis-py has no class for, by which a server refuses writes (or,
# BUSY: every command, while a script runs past ``busy-reply-threshold``).
_REFUSING_WRITES = ("MISCONF", "NOREPLICAS", "BUSY")

# Redis 3.2 on ("DB index is out of range"), and earlier ("invalid DB index").
_NO_SUCH_DB = re.compile(r"DB index is out of range|invalid DB index", re.IGNORECASE)

# A server with requirepass to a client that gave no password (RESP2, RESP3).
_NO_PASSWORD = re.compile(r"Authentication required|HELLO must be called with the client already")

# TLS failures that say the two ends will never agree, not that one went away:
# what answers is not TLS (rediss:// at a plaintext port that replies), or the server's alert
# refuses the client's certificate (none given, untrusted, expired), its protocol
# version or ciphers. Not SSLEOFError, SSLZeroReturnError or a reset (a restart).
_TLS_REFUSED = re.compile(
    r"WRONG_VERSION_NUMBER|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE|NO_CIPHERS_AVAILABLE"
    r"|(?:SSLV3|TLSV1|TLSV13)_ALERT_(?:HANDSHAKE_FAILURE|BAD_CERTIFICATE"
    r"|UNSUPPORTED_CERTIFICATE|CERTIFICATE_(?:REVOKED|EXPIRED|UNKNOWN|REQUIRED)"
    r"|UNKNOWN_CA|ACCESS_DENIED|PROTOCOL_VERSION|INSUFFICIENT_SECURITY)"
)
_TLS_HINTS = {
    "WRONG_VERSION_NUMBER": "what answers is not TLS: is the port a TLS port?",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a client certificate",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "no client certificate, or no protocol or cipher in common",
    "TLSV1_ALERT_UNKNOWN_CA": "the server does not trust the client certificate",
}

# What redis-py's cluster client raises when a startup node refuses CLUSTER SLOTS.
_NOT_A_CLUSTER = "Cluster mode is not enabled"
# What a standalone Redis replies to CLUSTER SLOTS ("This instance has cluster support disabled").
_CLUSTER_DISABLED = "cluster support disabled"

# A command an ACL refuses the user: directly (NoPermissionError), in a MULTI/EXEC
# (the same reply, annotated), or run by a script (a plain error of its own).
_NO_PERMISSION = re.compile(r"no permissions to (?:run|access)|The user executing the script can't")

# Every key NovaOS writes begins with one of these: what a Redis ACL user needs
# (``~nova:*`` and so on; docs/operations.md, "Redis ACL"). ``check_access`` writes
# a short-lived key under each, with every command NovaOS sends.
KEY_PREFIXES = ("nova:", "shield:veto:", "ack:nonce:", "spark:count:", "spark:gap:")

# What ``check_access`` runs as a script (SCRIPT LOAD, EVALSHA, EVAL).
_PROBE_SCRIPT = "return redis.call('PEXPIRE', KEYS[1], 1000)"
_PROBE_SHA = hashlib.sha1(_PROBE_SCRIPT.encode(), usedforsecurity=False).hexdigest()
# Whether the user may RPUSH to KEYS[1], asked without pushing (RPUSH has no form
# that writes nothing). EVAL declares its keys read and write, so a key it runs on
# is one the user may write: a refusal here is the command's.
_PUSH_CHECK_SCRIPT = "return redis.acl_check_cmd('RPUSH', KEYS[1], 'p') and 1 or 0"

# What ``accepts_writes`` sets: a PING is answered by a full Redis or a replica too.
_PROBE_KEY = "nova:probe:writable"

RedisClient = aioredis.Redis | RedisCluster

# Scripts, not MULTI pipelines: atomic on one server and on a cluster alike
# (redis-py's async cluster transactions run each command on a helper thread).
_INCR = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])  -- a counter's TTL starts when it is created
end
return value
"""

# A push's values (ARGV[3] on) go in together: a script runs whole, so no other
# client's push lands between them, on one server and on a cluster alike (where a
# batch runs op by op). One RPUSH per value: no bound on how many (unpack has one).
_PUSH = """
for i = 3, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
if ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""

# A push with an op id: applied once, all of its values (ARGV[4] on) or none,
# however often it is sent (a retry after a lost reply, a copy back after an
# outage). The ids of the list's latest pushes are kept in a second list in the
# same slot, as long and as short-lived as the list itself: no key per push, and
# a push's id outlives it only by the trim.
_PUSH_ONCE = """
if redis.call('LPOS', KEYS[2], ARGV[3]) then return 0 end
for i = 4, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[1]), -1)
if ARGV[2] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
"""

# A ranked set: the score only rises (GT), then the highest ARGV[3] are kept.
_RANK = """
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[3]) - 1)
if ARGV[4] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
"""


def pushed_ids_key(key: str) -> str:
    """Where the ids of ``key``'s latest pushes made with an op id are kept."""
    return same_slot_key(key, "pushed-ids")


def same_slot_key(key: str, suffix: str) -> str:
    """A key Redis Cluster places in ``key``'s slot (the hash-tag rule)."""
    opening = key.find("{")
    closing = key.find("}", opening + 1) if opening >= 0 else -1
    if opening >= 0 and closing > opening + 1:
        return f"{key}:{suffix}"  # the first {tag} still decides the slot
    if "}" in key or "{" in key:
        raise ValueError(f"cannot derive a same-slot key for {key!r}")
    return f"{{{key}}}:{suffix}"


def refusal(exc: BaseException) -> str | None:
    """Why a Redis that answers refuses NovaOS for good, or None (an outage, which
    ends by itself). redis-py raises a refused password, the TLS certificate a
    client does not trust, and a TLS handshake the server refuses (``_TLS_REFUSED``)
    as ``ConnectionError``s, like a server that is gone; a cluster client wraps
    them in its own error."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, rexc.AuthenticationError):
            said = str(seen)
            if _NO_PASSWORD.search(said):  # NOAUTH, or HELLO's longer way of saying it
                said = "Redis requires a password and none was given"
            return f"authentication refused: {said}"
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted: {seen.verify_message or seen}"
        if isinstance(seen, ssl.SSLError) and _TLS_REFUSED.fullmatch(reason := seen.reason or ""):
            return f"TLS refused: {reason} ({_TLS_HINTS.get(reason, 'check the TLS settings')})"
        seen = seen.__cause__ or seen.__context__
    return None


def not_a_cluster(exc: BaseException) -> str | None:
    """Why no cluster could be formed, when it is that a node answered but has cluster
    support disabled (a standalone Redis), or None. redis-py tries every startup node
    and raises what the last one tried gave: another unreachable node makes it an
    outage. A standalone Redis never turns into a cluster node by itself."""
    said = _cluster_slots_reply(exc)
    if said is None or _CLUSTER_DISABLED not in str(said):
        return None
    return (
        f"a node is not in cluster mode ({str(said).strip()}): "
        "for one Redis server set REDIS_URL, not REDIS_CLUSTER_NODES"
    )


def _cluster_slots_reply(exc: BaseException) -> rexc.ResponseError | None:
    """The error a startup node replied to CLUSTER SLOTS with, or None. redis-py
    turns every error reply to it (a standalone Redis, but also BUSY, LOADING or an
    ACL refusal) into one "Cluster mode is not enabled" ``RedisClusterException``:
    only the reply itself tells them apart."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, rexc.RedisClusterException) and str(seen).startswith(_NOT_A_CLUSTER):
            said = seen.__context__
            return said if isinstance(said, rexc.ResponseError) else None
        seen = seen.__cause__ or seen.__context__
    return None


def cluster_slots_refused(exc: BaseException) -> str | None:
    """The permission line (as ``check_access`` words it) when the Redis user may not
    run CLUSTER SLOTS, which a cluster client needs to find the slots, or None."""
    said = _cluster_slots_reply(exc)
    if said is None or not _NO_PERMISSION.search(str(said)):
        return None
    return (
        f"permission refused: the Redis user lacks commands {_what_is_refused(said, '')} "
        "(docs/operations.md, Redis ACL)"
    )


@asynccontextmanager
async def translate_errors(backend: str) -> AsyncIterator[None]:
    """Re-raise connectivity failures as ``StorageUnavailableError``, and a refusal
    (``refusal``) as ``StorageRefusedError``."""
    try:
        yield
    except UNAVAILABLE as exc:
        if (cause := refusal(exc)) is not None:
            raise StorageRefusedError(backend, cause) from exc
        raise StorageUnavailableError(f"{backend} unavailable: {type(exc).__name__}") from exc
    except rexc.ResponseError as exc:
        if _NO_PERMISSION.search(str(exc)):  # an ACL that lacks a key pattern or command
            raise StorageRefusedError(backend, f"permission refused: {exc}") from exc
        code = _error_code(exc)
        if code not in _REFUSING_WRITES:
            raise  # a bug in our command: stays loud
        raise StorageUnavailableError(f"{backend} unavailable: {code}") from exc


def _error_code(exc: rexc.ResponseError) -> str:
    """The reply's error code; a pipeline (MULTI/EXEC) prefixes its reply with the
    failed command (``Command # 1 (SET k v) of pipeline caused error: ('MISCONF ...',)``)."""
    _, _, reply = str(exc).rpartition("of pipeline caused error: ")
    return reply.lstrip("('\"").split(" ", 1)[0]


def _one_retry() -> Retry:
    # One immediate retry replaces a pooled connection that died with a
    # restarted server; more retries would only delay the switch to memory. A
    # timeout is not retried: Redis is stalled, and a second try (its reconnect
    # handshake times out too) would double REDIS_COMMAND_TIMEOUT_MS.
    return Retry(NoBackoff(), 1, supported_errors=(rexc.ConnectionError,))


class RedisStore:
    """``KeyValueStore`` over one Redis server with a bounded connection pool."""

    backend = "redis"
    atomic_batches = True  # one MULTI/EXEC

    def __init__(self, client: RedisClient, *, max_in_flight: int, timeout_s: float) -> None:
        self._client = client
        self._timeout_s = timeout_s
        # Bounds concurrent commands to the pool size: redis-py's async cluster
        # client has no blocking pool and raises MaxConnectionsError instead,
        # which must not read as "Redis is down" under a burst.
        self.in_flight = asyncio.Semaphore(max_in_flight)
        # Commands that found Redis unavailable, and whether the latest finished
        # command did: see ``command``.
        self._failures = 0
        self._failing = False
        # The latest failure a command met: what the failover's log line gives
        # as the cause of a switch to memory.
        self.last_failure: StorageUnavailableError | None = None
        self._incr = client.register_script(_INCR)
        self._push = client.register_script(_PUSH)
        self._push_once = client.register_script(_PUSH_ONCE)
        self._rank = client.register_script(_RANK)

    @classmethod
    def from_url(cls, url: str, *, pool_size: int, timeout_s: float) -> RedisStore:
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=pool_size,
            timeout=timeout_s,  # wait for a free pooled connection at most this long
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=_one_retry(),
        )
        client = aioredis.Redis.from_pool(pool)  # the client owns (and closes) the pool
        return cls(client, max_in_flight=pool_size, timeout_s=timeout_s)

    @property
    def call_bound_ms(self) -> int:
        """The longest one command can take to reach Redis after it is called: a
        pooled connection waited for, a connect, and redis-py's one retry after a
        dropped connection (connect and send again), each bounded by
        REDIS_COMMAND_TIMEOUT_MS, with a reply's wait between."""
        return math.ceil(5 * self._timeout_s * 1000)

    @property
    def client(self) -> RedisClient:
        """The redis-py client, for adapters that run scripts (the limiter)."""
        return self._client

    @asynccontextmanager
    async def command(self) -> AsyncIterator[None]:
        """One command's turn: bounded concurrency, client ready, errors translated.

        A command that waited for a turn while the commands ahead of it found Redis
        unavailable (timed out on a stalled server) fails at once: sent anyway, it
        would cost its caller another REDIS_COMMAND_TIMEOUT_MS, and the queue behind
        it one more each, although the failover has already switched to memory.
        """
        failures = self._failures
        async with self.in_flight:
            if self._failing and self._failures != failures:
                raise StorageUnavailableError(
                    f"{self.backend} unavailable: failed while this command waited"
                )
            try:
                async with translate_errors(self.backend):
                    await self._ready()
                    yield
            except StorageUnavailableError as exc:
                self._failures += 1
                self._failing = True
                self.last_failure = exc
                raise
            self._failing = False

    async def _ready(self) -> None:
        """A single server's pool connects lazily and safely; nothing to do."""

    async def _run(self, awaitable: Awaitable[Any]) -> Any:
        try:
            async with self.command():
                return await awaitable
        finally:
            # Not awaited when the command could not start (a cluster whose slot map
            # cannot be read): close it, or it warns "never awaited" when collected.
            if isinstance(awaitable, Coroutine):
                awaitable.close()

    async def get(self, key: str) -> bytes | None:
        return cast(bytes | None, await self._run(self._client.get(key)))

    async def set(
        self, key: str, value: bytes, *, ttl_ms: int | None = None, nx: bool = False
    ) -> bool:
        return bool(await self._run(self._client.set(key, value, px=ttl_ms, nx=nx)))

    async def delete(self, *keys: str) -> int:
        """How many of ``keys`` were there. A list's push ids (``pushed_ids_key``,
        in its slot) go with it, as in memory where they are part of the list:
        left behind, they would also make a later push with a reused id a no-op."""
        if not keys:
            return 0
        removed = int(await self._run(self._client.delete(*keys)))
        await self._run(self._client.unlink(*(pushed_ids_key(k) for k in keys)))
        return removed

    async def incr(self, key: str, amount: int = 1, *, ttl_ms: int | None = None) -> int:
        ttl = "" if ttl_ms is None else str(ttl_ms)
        return int(await self._run(self._incr(keys=(key,), args=(amount, ttl))))

    async def list_push(
        self,
        key: str,
        *values: bytes,
        max_len: int,
        ttl_ms: int | None = None,
        op_id: str = "",
    ) -> None:
        if op_id:
            await self.replay_push(key, *values, max_len=max_len, ttl_ms=ttl_ms, op_id=op_id)
            return
        if not values:
            raise ValueError(f"a push to {key!r} needs a value")
        ttl = "" if ttl_ms is None else str(ttl_ms)
        await self._run(self._push(keys=(key,), args=(max_len, ttl, *values)))

    async def list_range(self, key: str, start: int = 0, end: int = -1) -> list[bytes]:
        return list(await self._run(self._client.lrange(key, start, end)))

    async def list_len(self, key: str) -> int:
        return int(await self._run(self._client.llen(key)))

    async def expire(self, key: str, ttl_ms: int) -> bool:
        return bool(await self._run(self._client.pexpire(key, ttl_ms)))

    async def ranked_add(
        self, key: str, member: bytes, score: int, *, max_len: int, ttl_ms: int | None = None
    ) -> None:
        ttl = "" if ttl_ms is None else str(ttl_ms)
        await self._run(self._rank(keys=(key,), args=(member, score, max_len, ttl)))

    async def ranked_top(
        self, key: str, count: int, *, min_score: int | None = None
    ) -> list[bytes]:
        if count <= 0:
            return []  # LIMIT 0 with a negative count would mean "all"
        floor = "-inf" if min_score is None else min_score
        return list(
            await self._run(self._client.zrevrangebyscore(key, "+inf", floor, start=0, num=count))
        )

    async def ranked_remove(self, key: str, *members: bytes) -> int:
        if not members:
            return 0
        return int(await self._run(self._client.zrem(key, *members)))

    async def batch(self, ops: Sequence[StoreOp]) -> list[object]:
        """One MULTI/EXEC transaction: one round trip, and no other client's command
        lands between the ops (a push's RPUSH, LTRIM and PEXPIRE included). A push
        with an op id is an EVAL of its script in the transaction (the script's
        text, not its SHA: a NOSCRIPT there would fail that op alone, after the
        others ran)."""
        if not ops:
            return []
        pipe = self._client.pipeline(transaction=True)
        sizes = [_queue(pipe, op) for op in ops]
        async with self.command():
            replies = await pipe.execute()
        results: list[object] = []
        at = 0
        for op, size in zip(ops, sizes, strict=True):
            results.append(_result(op, replies[at] if size else None))
            at += size
        return results

    async def replay_push(
        self, key: str, *values: bytes, max_len: int, ttl_ms: int | None, op_id: str
    ) -> bool:
        """``list_push`` that runs once per ``op_id``; False if it already ran."""
        if not values:
            raise ValueError(f"a push to {key!r} needs a value")
        ttl = "" if ttl_ms is None else str(ttl_ms)
        args: tuple[int | str | bytes, ...] = (max_len, ttl, op_id, *values)
        return bool(await self._run(self._push_once(keys=(key, pushed_ids_key(key)), args=args)))

    async def ping(self) -> bool:
        try:
            return await self._pong()
        except StorageUnavailableError:
            return False

    async def check_at_start(self) -> bool:
        """Whether Redis answers (False: an outage, waited out on memory). One that
        answers but refuses NovaOS (``StorageRefusedError``) would never come back by
        itself: a ``ConfigError`` naming its setting (``REDIS_URL``, or
        ``REDIS_CLUSTER_NODES`` for a node not in cluster mode) and the cause."""
        try:
            if not await self._pong():
                return False
            await self.check_access()
        except StorageRefusedError as exc:
            raise ConfigError(f"invalid configuration: {exc.setting}: {exc.cause}") from None
        except StorageUnavailableError:
            return False
        return True

    async def _pong(self) -> bool:
        try:
            return bool(await self._run(self._client.ping()))
        except rexc.ResponseError as exc:
            if not _NO_SUCH_DB.search(str(exc)):
                raise
            # The SELECT of the URL's database on connecting: the server has fewer
            # (``databases``, 16 by default). Not an outage to wait out on memory.
            raise ConfigError(_no_such_db(self._client)) from None

    async def accepts_writes(self) -> bool:
        """Whether a short-lived write goes through (see ``_PROBE_KEY``), and every
        command NovaOS sends on each of its key prefixes (``check_access``): a
        permission refused while running would otherwise bring the store back
        from memory only to fail the next request that needs it."""
        try:
            if not await self._run(self._client.set(_PROBE_KEY, b"1", px=1000)):
                return False
            await self.check_access()
        except StorageUnavailableError:
            return False
        return True

    async def check_access(self) -> None:
        """Run every command NovaOS sends (scripts and a transaction included) on
        short-lived keys under each of ``KEY_PREFIXES``. ``StorageRefusedError``
        naming every key pattern and command the Redis user is refused (an ACL
        user lacking one failed every request that needed it, as a shield error or
        INTERNAL); ``StorageUnavailableError`` when Redis does not answer."""
        refused: dict[str, None] = {}  # in the order found, once each
        # What redis-py's scripts send on a server that lacks them (NOSCRIPT).
        await self._refused_by(refused, "", self._client.script_load(_PROBE_SCRIPT))
        pushed = False  # whether RPUSH was probed (it has no form that writes nothing)
        for prefix in KEY_PREFIXES:
            keys = _probe_keys(prefix)
            # The commands that give the probe's keys a TTL and remove them first, on
            # keys that do not exist yet: refused, a key made next would stay for good
            # (the reconnect probe runs every few seconds). Then only forms that write
            # nothing, so one line still names all the user lacks.
            if await self._refused_of(refused, prefix, _probe_cleanup(*keys)):
                await self._refused_of(refused, prefix, _probe_dry(*keys), dry=True)
            else:
                await self._refused_of(refused, prefix, _probe_commands(*keys))
                pushed = True
            await self._refused_by(refused, prefix, self._client.evalsha(_PROBE_SHA, 1, keys[0]))
        nova, key = KEY_PREFIXES[0], _probe_keys(KEY_PREFIXES[0])[0]
        if not pushed and not await self._push_refused_by_script(refused, nova, key):
            await self._probe_push_outside(refused)
        await self._refused_by(refused, nova, self._client.eval(_PROBE_SCRIPT, 1, key))
        if self.atomic_batches:  # a cluster's batches run op by op: no MULTI/EXEC
            await self._probe_transaction(refused, nova, key)
        if refused:
            patterns = [r for r in refused if r.endswith("*")]
            commands = [r for r in refused if not r.endswith("*")]
            lacks = [f"keys {', '.join(patterns)}"] if patterns else []
            lacks += [f"commands {', '.join(commands)}"] if commands else []
            failure = StorageRefusedError(
                self.backend,
                f"permission refused: the Redis user lacks {' and '.join(lacks)} "
                "(docs/operations.md, Redis ACL)",
            )
            self.last_failure = failure
            raise failure

    async def _refused_of(
        self,
        refused: dict[str, None],
        prefix: str,
        commands: list[tuple[str, ...]],
        *,
        dry: bool = False,
    ) -> bool:
        """Send ``commands`` in one pipeline; note what is refused; whether any was.
        ``dry``: the commands' plain errors are expected (``_probe_dry``)."""
        pipe = self._client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        found = False
        async with self.command():
            for reply in await pipe.execute(raise_on_error=False):
                if isinstance(reply, rexc.ResponseError) and _NO_PERMISSION.search(str(reply)):
                    refused[_what_is_refused(reply, prefix)] = None
                    found = True
                elif dry and type(reply) is rexc.ResponseError:
                    pass  # allowed, then refused by the command itself: nothing written
                elif isinstance(reply, Exception):
                    raise reply  # translated: OOM, READONLY, ... (a bug stays loud)
        return found

    async def _probe_transaction(self, refused: dict[str, None], prefix: str, key: str) -> None:
        """MULTI, a PEXPIRE of ``key`` and EXEC. A bare EXEC first (the ACL checks it
        before Redis finds no MULTI): without EXEC, MULTI is tried alone, on a
        connection closed after it, since nothing else ends the transaction it opens."""
        if await self._refused_of(refused, prefix, [("EXEC",)], dry=True):
            if await self._multi_refused():
                refused["MULTI"] = None
            return
        pipe = self._client.pipeline(transaction=True)
        pipe.pexpire(key, 1000)
        try:
            await self._refused_by(refused, prefix, pipe.execute())
        except rexc.ResponseError as exc:
            if "EXEC without MULTI" not in str(exc):
                raise
            refused["MULTI"] = None  # its refusal is not what redis-py raises

    async def _multi_refused(self) -> bool:
        """Whether MULTI is refused. The connection is taken inside ``command``: one
        that cannot be made (or a pool that stays busy) is an outage like any other
        command's, not a redis-py error out of the start-up check."""
        pool = cast(aioredis.Redis, self._client).connection_pool
        try:
            async with self.command():
                connection = await cast(Any, pool).get_connection()  # untyped in redis-py
                try:
                    await connection.send_command("MULTI")
                    await connection.read_response()
                finally:
                    await connection.disconnect()
                    await pool.release(connection)
        except StorageRefusedError as exc:
            if not isinstance(exc.__cause__, rexc.ResponseError):
                raise
            return True
        return False

    async def _push_refused_by_script(
        self, refused: dict[str, None], prefix: str, key: str
    ) -> bool:
        """Ask Redis whether the user may RPUSH to ``key`` (``_PUSH_CHECK_SCRIPT``),
        noting RPUSH if not; whether it could be asked (EVAL allowed on ``key``, and
        a Redis of 7.0 or later, whose scripts have ``acl_check_cmd``)."""
        answer: list[Any] = []

        async def ask() -> None:
            answer.append(await self._client.eval(_PUSH_CHECK_SCRIPT, 1, key))

        try:
            if await self._refused_by(refused, prefix, ask()) or not answer:
                return False
        except rexc.ResponseError:
            return False  # an older Redis: the key outside the patterns tells
        if not answer[0]:
            refused["RPUSH"] = None
        return True

    async def _probe_push_outside(self, refused: dict[str, None]) -> None:
        """RPUSH on a key outside the user's key patterns: the ACL checks the command
        before the key, so it names RPUSH if the user lacks it, and writes nothing
        either way. Skipped for a user whose patterns take that key too."""
        key = f"acl-probe:{{{secrets.token_hex(8)}}}"
        outside: dict[str, None] = {}
        await self._refused_of(outside, "", [("GET", key)])
        if "*" in outside:  # the key is refused: RPUSH cannot write it
            pushed: dict[str, None] = {}
            await self._refused_of(pushed, "", [("RPUSH", key, "p")])
            refused.update(dict.fromkeys(c for c in pushed if c != "*"))

    async def _refused_by(
        self, refused: dict[str, None], prefix: str, awaitable: Awaitable[Any]
    ) -> bool:
        """Run one probe; note what it was refused instead of raising it; whether
        it was."""
        try:
            await self._run(awaitable)
        except StorageRefusedError as exc:
            if not isinstance(exc.__cause__, rexc.ResponseError):
                raise  # the credentials or the certificate, not a permission
            refused[_what_is_refused(exc.__cause__, prefix)] = None
            return True
        except rexc.NoScriptError:
            return True  # its SCRIPT LOAD was refused, and named
        return False

    def check_room(self, key: str, writes: int) -> None:
        return None  # Redis answers for itself (OOM under noeviction), at the write

    async def health(self) -> StoreHealth:
        started = time.perf_counter()
        if not await self.ping():
            return StoreHealth(backend=self.backend, status="down")
        latency_ms = (time.perf_counter() - started) * 1000
        return StoreHealth(backend=self.backend, status="ok", latency_ms=round(latency_ms, 3))

    async def aclose(self) -> None:
        await self._client.aclose()


def _probe_keys(prefix: str) -> tuple[str, str, str, str]:
    """A string, a list, a ranked set and a hash under ``prefix``, in one cluster slot."""
    tag = "{" + secrets.token_hex(8) + "}"
    return tuple(f"{prefix}probe:{tag}:{kind}" for kind in "slzh")  # type: ignore[return-value]


def _probe_cleanup(text: str, items: str, ranked: str, fields: str) -> list[tuple[str, ...]]:
    """What ``_probe_commands`` needs to leave nothing behind, for keys that do not exist."""
    return [("PEXPIRE", items, "1000"), ("DEL", text, items), ("UNLINK", ranked, fields)]


def _probe_commands(text: str, items: str, ranked: str, fields: str) -> list[tuple[str, ...]]:
    """Every command NovaOS sends on keys (directly or in its scripts), each key given
    a 1 s TTL first and deleted last."""
    ms = "1000"
    return [
        ("SET", text, "0", "PX", ms), ("INCRBY", text, "1"), ("PTTL", text), ("GET", text),
        ("EXISTS", text),
        ("RPUSH", items, "p"), ("PEXPIRE", items, ms), ("LTRIM", items, "-1", "-1"),
        ("LPOS", items, "p"), ("LRANGE", items, "0", "-1"), ("LLEN", items),
        ("ZADD", ranked, "GT", "1", "p"), ("PEXPIRE", ranked, ms), ("ZSCORE", ranked, "p"),
        ("ZCARD", ranked), ("ZRANGE", ranked, "0", "-1"),
        ("ZRANGEBYSCORE", ranked, "-inf", "+inf"), ("ZREVRANGEBYSCORE", ranked, "+inf", "-inf"),
        ("ZREMRANGEBYSCORE", ranked, "-inf", "0"), ("ZREMRANGEBYRANK", ranked, "0", "-2"),
        ("ZREM", ranked, "p"),
        ("HSET", fields, "p", "1"), ("PEXPIRE", fields, ms), ("HGET", fields, "p"),
        ("HMGET", fields, "p"), ("HEXISTS", fields, "p"), ("HINCRBY", fields, "p", "1"),
        ("HDEL", fields, "p"),
        ("TIME",), ("DEL", text, items), ("UNLINK", ranked, fields),
    ]  # fmt: skip


def _probe_dry(text: str, items: str, ranked: str, fields: str) -> list[tuple[str, ...]]:
    """``_probe_commands`` where a key made could not be removed: each write in a form
    the ACL checks and the command then refuses (a zero expiry, a count that is not a
    number, options that exclude each other, a field without a value), the rest reads
    or removes. Not RPUSH, which has no such form (``_probe_push_outside``)."""
    return [
        ("SET", text, "0", "PX", "0"), ("INCRBY", text, "x"), ("PTTL", text), ("GET", text),
        ("EXISTS", text),
        ("LTRIM", items, "-1", "-1"), ("LPOS", items, "p"), ("LRANGE", items, "0", "-1"),
        ("LLEN", items),
        ("ZADD", ranked, "GT", "NX", "1", "p"), ("ZSCORE", ranked, "p"), ("ZCARD", ranked),
        ("ZRANGE", ranked, "0", "-1"), ("ZRANGEBYSCORE", ranked, "-inf", "+inf"),
        ("ZREVRANGEBYSCORE", ranked, "+inf", "-inf"), ("ZREMRANGEBYSCORE", ranked, "-inf", "0"),
        ("ZREMRANGEBYRANK", ranked, "0", "-2"), ("ZREM", ranked, "p"),
        ("HSET", fields, "p", "1", "q"), ("HGET", fields, "p"), ("HMGET", fields, "p"),
        ("HEXISTS", fields, "p"), ("HINCRBY", fields, "p", "x"), ("HDEL", fields, "p"),
        ("TIME",),
    ]  # fmt: skip


_REFUSED_COMMAND = re.compile(r"run the '([^']+)' command")
_SCRIPT_REFUSED_COMMAND = "The user executing the script can't run"


def _what_is_refused(exc: rexc.ResponseError, prefix: str) -> str:
    """A NOPERM reply as what the ACL lacks: a command (``INCRBY``), or a key
    pattern (``shield:veto:*``)."""
    if command := _REFUSED_COMMAND.search(str(exc)):
        return command.group(1).upper()
    if _SCRIPT_REFUSED_COMMAND in str(exc):
        return "PEXPIRE"  # the one command ``_PROBE_SCRIPT`` runs
    return f"{prefix}*"


def _no_such_db(client: RedisClient) -> str:
    db = 0  # all a cluster has
    if isinstance(client, aioredis.Redis):
        db = client.connection_pool.connection_kwargs.get("db", 0)
    return (
        f"invalid configuration: REDIS_URL: the server has no database {db} "
        "(it has as many as its 'databases' setting, from 0)"
    )


def _queue(pipe: Any, op: StoreOp) -> int:
    """Queue ``op``'s commands on ``pipe``; how many replies they give (the first counts;
    none for an op that needs no command)."""
    if isinstance(op, GetOp):
        pipe.get(op.key)
    elif isinstance(op, SetOp):
        pipe.set(op.key, op.value, px=op.ttl_ms, nx=op.nx)
    elif isinstance(op, PushOp) and op.op_id:
        ttl = "" if op.ttl_ms is None else str(op.ttl_ms)
        pipe.execute_command(
            "EVAL", _PUSH_ONCE, 2, op.key, pushed_ids_key(op.key), op.max_len, ttl, op.op_id,
            *op.values,
        )  # fmt: skip
    elif isinstance(op, PushOp):
        pipe.rpush(op.key, *op.values)
        pipe.ltrim(op.key, -op.max_len, -1)
        if op.ttl_ms is not None:
            pipe.pexpire(op.key, op.ttl_ms)
            return 3
        return 2
    elif isinstance(op, RangeOp):
        pipe.lrange(op.key, op.start, op.end)
    elif isinstance(op, ExpireOp):
        pipe.pexpire(op.key, op.ttl_ms)
    elif isinstance(op, RankOp | TopOp | UnrankOp):
        return _queue_ranked(pipe, op)
    else:
        pipe.llen(op.key)
    return 1


def _queue_ranked(pipe: Any, op: RankOp | TopOp | UnrankOp) -> int:
    """``_queue`` for the ranked-set ops: what ``RedisStore.ranked_*`` send, unscripted
    (the transaction keeps the ZADD, its trim and its PEXPIRE together)."""
    if isinstance(op, RankOp):
        pipe.zadd(op.key, {op.member: op.score}, gt=True)
        pipe.zremrangebyrank(op.key, 0, -op.max_len - 1)
        if op.ttl_ms is not None:
            pipe.pexpire(op.key, op.ttl_ms)
            return 3
        return 2
    if isinstance(op, TopOp):
        # An empty answer for a count of 0 or less (LIMIT with -1 would mean "all").
        floor = "-inf" if op.min_score is None else op.min_score
        pipe.zrevrangebyscore(op.key, "+inf", floor, start=0, num=max(op.count, 0))
    elif op.members:
        pipe.zrem(op.key, *op.members)
    else:
        return 0  # ZREM needs a member: nothing to send, nothing removed
    return 1


def _result(op: StoreOp, reply: Any) -> object:
    """``reply`` as the single-call method gives it."""
    if isinstance(op, SetOp | ExpireOp):
        return bool(reply)
    if isinstance(op, PushOp | RankOp):
        return None
    if isinstance(op, RangeOp | TopOp):
        return list(reply)
    if isinstance(op, LenOp):
        return int(reply)
    if isinstance(op, UnrankOp):
        return int(reply or 0)
    return reply


class RedisClusterStore(RedisStore):
    """``KeyValueStore`` over Redis Cluster (``REDIS_CLUSTER_NODES=host:port,...``)."""

    backend = "redis_cluster"
    atomic_batches = False  # op by op: the keys span slots

    def __init__(self, client: RedisCluster, *, max_in_flight: int, timeout_s: float) -> None:
        super().__init__(client, max_in_flight=max_in_flight, timeout_s=timeout_s)
        self._cluster = client
        self._init_lock = asyncio.Lock()
        self._initialized = False

    async def batch(self, ops: Sequence[StoreOp]) -> list[object]:
        # A batch's keys span slots (an owner's history, a conversation's claim),
        # and MULTI needs one slot: the ops go one at a time. Each op is still whole:
        # a push's values are one script, so another client's push never lands
        # between them (a conversation's question and its answer).
        return await one_by_one(self, ops)

    async def _ready(self) -> None:
        # redis-py initializes the slot map on first use; concurrent first
        # commands race that and may see their connections closed under them.
        if self._initialized:
            return
        async with self._init_lock:
            if not self._initialized:
                try:
                    await self._cluster.initialize()
                except rexc.RedisClusterException as exc:
                    # No startup node reachable (not a RedisError). Only here: the same
                    # class also reports misuse (keys across slots), which must stay loud.
                    if (cause := refusal(exc)) is not None:
                        raise StorageRefusedError(self.backend, cause) from exc
                    if (cause := cluster_slots_refused(exc)) is not None:
                        raise StorageRefusedError(self.backend, cause) from exc
                    if (cause := not_a_cluster(exc)) is not None:
                        raise StorageRefusedError(
                            self.backend, cause, setting="REDIS_CLUSTER_NODES"
                        ) from exc
                    raise StorageUnavailableError(
                        f"{self.backend} unavailable: {type(exc).__name__}"
                    ) from exc
                self._initialized = True

    @classmethod
    def from_nodes(
        cls, nodes: tuple[str, ...], *, pool_size: int, timeout_s: float, url: str = ""
    ) -> RedisClusterStore:
        """``url`` (``REDIS_URL``), when set, gives the nodes' credentials and TLS
        (``rediss://user:password@...``); its host and database are not used."""
        client = cluster_client(nodes, pool_size=pool_size, timeout_s=timeout_s, url=url)
        return cls(client, max_in_flight=pool_size, timeout_s=timeout_s)


def cluster_client(
    nodes: tuple[str, ...], *, pool_size: int, timeout_s: float, url: str = ""
) -> RedisCluster:
    """A cluster client for ``nodes``; ``url`` gives credentials and TLS."""
    startup = [ClusterNode(host, int(port)) for host, port in (n.rsplit(":", 1) for n in nodes)]
    auth = urlsplit(url) if url else None
    return RedisCluster(
        startup_nodes=startup,
        max_connections=pool_size,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=_one_retry(),
        username=unquote(auth.username) if auth and auth.username else None,
        password=unquote(auth.password) if auth and auth.password else None,
        ssl=auth is not None and auth.scheme == "rediss",
    )


_UNKNOWN_OPTION = re.compile(r"unexpected keyword argument '(\w+)'")


def url_problem(url: str) -> str | None:
    """What redis-py refuses in ``url`` (a query option it does not take, a value it
    cannot read), found by its own parsing as it builds a client, without connecting;
    or None. Refused later, it was a traceback at start-up and, with WORKERS>1,
    workers restarted for ever."""
    try:
        pool = aioredis.BlockingConnectionPool.from_url(url)
        # What the pool's make_connection does: the object only, nothing is connected.
        pool.connection_class(**pool.connection_kwargs)
    except Exception as exc:  # whatever redis-py raises for it, no client can be built
        return _refusal(exc, urlsplit(url))
    db = pool.connection_kwargs.get("db", 0)
    return f"database {db}: a database number is 0 or more" if db < 0 else None


def _refusal(exc: Exception, url: SplitResult) -> str:
    unknown = _UNKNOWN_OPTION.search(str(exc)) if isinstance(exc, TypeError) else None
    if unknown is None:
        said = str(exc)
        if url.password:  # not quoted back
            said = said.replace(url.password, "***").replace(unquote(url.password), "***")
        return f"redis-py refuses it: {said}"
    option = unknown.group(1)
    tls = " (a TLS option: use rediss://)" if option.startswith("ssl_") else ""
    return f"redis-py takes no query option {option!r} for a {url.scheme}:// URL{tls}"


def server_client(url: str, *, timeout_s: float) -> aioredis.Redis:
    """A client of its own for ``url`` (not the store's bounded pool)."""
    return aioredis.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=_one_retry()
    )
