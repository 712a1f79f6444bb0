"""``AdmissionBackend`` over Redis or Redis Cluster: one script call per admission.

The script (``admission.lua``) reads the server clock, purges, checks and charges
in one atomic step, so any number of gateway processes share exact limits.
All keys of a subject share the ``{subject}`` hash tag (one cluster slot).
"""

from __future__ import annotations

import secrets
from importlib import resources

from novaos.limits.model import (
    CONCURRENCY,
    OVER_TOKEN_LIMIT,
    RELEASE_SLACK_MS,
    REQUESTS,
    TOKENS,
    AdmitRequest,
    AdmitResult,
    LeaseGrant,
    LimitSubject,
    limit_keys,
    limit_window,
    rate_limit_headers,
)
from novaos.limits.tiers import WINDOW_MS
from novaos.storage.redis_store import RedisStore

_VIOLATIONS = {0: "", 1: REQUESTS, 2: TOKENS, 3: CONCURRENCY, 4: OVER_TOKEN_LIMIT}


def _now_from(arg: int) -> str:
    """Lua prelude: ``now`` from ARGV[arg] (tests) or the server clock."""
    return f"""
local now
if ARGV[{arg}] ~= '' then now = tonumber(ARGV[{arg}]) else
  local t = redis.call('TIME'); now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""


# A lease Redis no longer holds at all, and that was never released (no
# tombstone), was lost by Redis (a restart, a failover to an empty replica) or
# granted by the memory fallback during an outage: the request still runs, so
# it is registered (again) and counts against the concurrency limit. A lease
# seen expired stays dead (its slot may have been given away); once an admission
# has purged it, a late refresh registers it like a lost one (its request is
# still running). A released one stays dead (a refresh delayed behind the
# release must not revive it), as does an admission that arrives after its own
# take-back (admission.lua checks the same tombstone).
# KEYS: 1 lease zset, 2 tombstone, 3 the lease's charge in all (admission.lua's KEYS[6],
# kept a window longer than the lease). ARGV: 1 lease id, 2 lease ttl ms, 3 now ms,
# 4 window ms.
_REFRESH = (
    _now_from(3)
    + """
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if expires and tonumber(expires) <= now then return 0 end
if not expires and redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
redis.call('PEXPIRE', KEYS[3], ttl + tonumber(ARGV[4]))
return 1
"""
)

# A release runs once: the tombstone it leaves makes one sent again (redis-py's
# retry, or the limiter's after an unanswered call) change nothing. The limiter
# sends it again up to a lease TTL after it first did, and a call may reach Redis
# up to ``call_bound_ms`` after it is made: the tombstone outlives both (ARGV[3]),
# or a repeat would charge a long stream twice, or cut a charge to what the lease
# used less what it reserved.
# The reconciliation is MemoryAdmission's (``_Window.settle``): what of the lease's
# charge in all (admission and top-ups as admission.lua recorded them, KEYS[5]; the
# caller's count, ARGV[4], if more: Redis lost the record) left the window counted
# for its minute; the usage beyond that is charged, in its entry if still in the
# window (one past it that no admission purged yet is purged here), else as a new
# one from now. A stream longer than the window used to be charged nothing at all.
# The record, not the caller's count: a top-up that ran here but whose answer was
# lost is missing from that, and would be charged again.
# KEYS: 1 lease zset, 2 token hash, 3 tombstone, 4 token zset, 5 the lease's charge
# ARGV: 1 lease id, 2 tokens used ('' = keep the charge), 3 tombstone ttl ms,
#       4 tokens charged in all as the caller counts, 5 window ms, 6 now ms ('' = TIME)
_RELEASE = (
    _now_from(6)
    + """
local id = ARGV[1]
redis.call('ZREM', KEYS[1], id)
if not redis.call('SET', KEYS[3], '1', 'PX', ARGV[3], 'NX') then return 0 end
local recorded = tonumber(redis.call('GET', KEYS[5]) or '0')
redis.call('DEL', KEYS[5])
if ARGV[2] == '' then return 1 end
local reserved = math.max(recorded, tonumber(ARGV[4]))
local at = redis.call('ZSCORE', KEYS[4], id)
local held = tonumber(redis.call('HGET', KEYS[2], id) or '0')
if at and tonumber(at) <= now - tonumber(ARGV[5]) then
  redis.call('ZREM', KEYS[4], id)
  redis.call('HDEL', KEYS[2], id, id .. ':top_up')
  if held ~= 0 then redis.call('HINCRBY', KEYS[2], '_total', -held) end
  at, held = nil, 0
end
local charge = math.max(tonumber(ARGV[2]) - math.max(reserved - held, 0), 0)
if at then
  redis.call('HSET', KEYS[2], id, charge)
  if charge ~= held then redis.call('HINCRBY', KEYS[2], '_total', charge - held) end
elseif charge > 0 then
  redis.call('ZADD', KEYS[4], now, id)
  redis.call('HSET', KEYS[2], id, charge)
  redis.call('HINCRBY', KEYS[2], '_total', charge)
  redis.call('PEXPIRE', KEYS[4], ARGV[5])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
return 1
"""
)

_PURGE_COUNT = (
    _now_from(1)
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""
)


def _tombstone(lease_key: str, lease_id: str) -> str:
    """Marks a released lease (see ``_RELEASE``); in the lease key's cluster slot."""
    return f"{lease_key}:released:{lease_id}"


def _charged(lease_key: str, lease_id: str) -> str:
    """What a lease was charged in all, admission and top-ups; in the same slot."""
    return f"{lease_key}:charged:{lease_id}"


def _ms(now_ms: int | None) -> str:
    return "" if now_ms is None else str(now_ms)


class RedisAdmission:
    """``AdmissionBackend`` whose state lives in Redis (shared by every process)."""

    def __init__(self, store: RedisStore) -> None:
        self.name = store.backend
        client = store.client
        self._store = store  # shares the store's bound on commands and cluster start-up
        # How long a release outlives the limiter's last repeat of it (see _RELEASE).
        self._released_beyond_ttl_ms = store.call_bound_ms + RELEASE_SLACK_MS
        script = resources.files("novaos.storage").joinpath("admission.lua").read_text()
        self._admit = client.register_script(script)
        self._refresh = client.register_script(_REFRESH)
        self._release = client.register_script(_RELEASE)
        self._count = client.register_script(_PURGE_COUNT)

    async def admit(self, request: AdmitRequest) -> LeaseGrant | AdmitResult:
        result = await self._run(request, request.tokens, request.now_ms, "admit")
        if not result.admitted:
            return result
        return LeaseGrant(request=request, result=result, issuer=self)

    async def top_up(
        self,
        grant: LeaseGrant,
        extra_tokens: int,
        *,
        retry: bool = False,
        now_ms: int | None = None,
    ) -> AdmitResult:
        mode = "top_up_retry" if retry else "top_up"
        return await self._run(grant.request, extra_tokens, now_ms, mode)

    async def _run(
        self, request: AdmitRequest, tokens: int, now_ms: int | None, mode: str
    ) -> AdmitResult:
        limits = request.limits
        args = (
            request.lease_id,
            limits.requests_per_minute,
            limits.tokens_per_minute,
            limits.concurrency,
            tokens,
            request.lease_ttl_ms,
            WINDOW_MS,
            _ms(now_ms),
            mode,
            # A top-up's own id: one sent again (redis-py's retry) is applied once.
            secrets.token_hex(8) if mode != "admit" else "",
        )
        keys = limit_keys(request.subject)
        lease_key, lease_id = keys[3], request.lease_id
        keys_and_lease = (*keys, _tombstone(lease_key, lease_id), _charged(lease_key, lease_id))
        async with self._store.command():
            raw = await self._admit(keys=keys_and_lease, args=args)
        admitted, code, retry_ms, count, reset_ms, used, tokens_reset_ms = (int(v) for v in raw)
        violation = _VIOLATIONS[code]
        headers = rate_limit_headers(
            limits,
            limit_window(limits.requests_per_minute, count, reset_ms),
            limit_window(limits.tokens_per_minute, used, tokens_reset_ms),
            violation,
            retry_ms,
        )
        return AdmitResult(bool(admitted), violation, retry_ms, headers)

    async def refresh(self, grant: LeaseGrant, *, now_ms: int | None = None) -> bool:
        """Extend the lease; register it if Redis lost it (see ``_REFRESH``)."""
        lease_key = limit_keys(grant.request.subject)[3]
        lease_id = grant.request.lease_id
        keys = (lease_key, _tombstone(lease_key, lease_id), _charged(lease_key, lease_id))
        args = (lease_id, grant.request.lease_ttl_ms, _ms(now_ms), WINDOW_MS)
        async with self._store.command():
            return bool(await self._refresh(keys=keys, args=args))

    async def release(
        self,
        grant: LeaseGrant,
        actual_tokens: int | None,
        *,
        reserved_tokens: int | None = None,
        now_ms: int | None = None,
    ) -> None:
        request = grant.request
        _, tokens_key, amounts_key, lease_key = limit_keys(request.subject)
        actual = "" if actual_tokens is None else str(actual_tokens)
        reserved = request.tokens if reserved_tokens is None else reserved_tokens
        lease_id, ttl = request.lease_id, request.lease_ttl_ms + self._released_beyond_ttl_ms
        tombstone, charged = _tombstone(lease_key, lease_id), _charged(lease_key, lease_id)
        keys = (lease_key, amounts_key, tombstone, tokens_key, charged)
        args = (lease_id, actual, ttl, reserved, WINDOW_MS, _ms(now_ms))
        async with self._store.command():
            await self._release(keys=keys, args=args)

    async def active_leases(self, subject: LimitSubject, *, now_ms: int | None = None) -> int:
        lease_key = limit_keys(subject)[3]
        async with self._store.command():
            return int(await self._count(keys=(lease_key,), args=(_ms(now_ms),)))
