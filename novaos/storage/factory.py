"""Builds the store and the limiter from Settings (called by the composition root)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from novaos.config import Settings
from novaos.domain import Tier
from novaos.errors import ConfigError
from novaos.limits import (
    FailoverAdmission,
    LeaseLimiter,
    LimitObserver,
    MemoryAdmission,
    TierLimits,
    tier_limits,
)
from novaos.ports import KeyValueStore
from novaos.storage.failover import FailoverStore, StorageObserver
from novaos.storage.memory import EvictionGroup, MemoryStore, Tombstone
from novaos.storage.redis_admission import RedisAdmission
from novaos.storage.redis_store import RedisClusterStore, RedisStore, url_problem


class RedisLimiter(LeaseLimiter):
    """Limits shared by every process on one Redis / Redis Cluster."""

    def __init__(
        self,
        store: RedisStore,
        limits: Mapping[Tier, TierLimits],
        *,
        lease_ttl_ms: int,
        observer: LimitObserver | None = None,
    ) -> None:
        backend = RedisAdmission(store)
        super().__init__(backend, limits, lease_ttl_ms=lease_ttl_ms, observer=observer)


class FailoverLimiter(LeaseLimiter):
    """Redis limits while the ``FailoverStore`` is healthy, memory limits while not."""

    def __init__(
        self,
        store: FailoverStore,
        primary: RedisStore,
        limits: Mapping[Tier, TierLimits],
        *,
        lease_ttl_ms: int,
        observer: LimitObserver | None = None,
    ) -> None:
        self._admission = FailoverAdmission(RedisAdmission(primary), MemoryAdmission(), store)
        super().__init__(self._admission, limits, lease_ttl_ms=lease_ttl_ms, observer=observer)

    async def aclose(self) -> None:
        await super().aclose()
        await self._admission.aclose()


def _no_group(key: str) -> str | None:
    return None


def _never(key: str) -> bool:
    return False


def _nothing_left(key: str, value: bytes) -> bytes | None:
    return None


def check_store_settings(settings: Settings) -> None:
    """The check of ``REDIS_URL`` that building its client makes, without connecting:
    a supervisor runs it before its workers. ``ConfigError`` when redis-py refuses it.
    (With ``REDIS_CLUSTER_NODES`` only its user, password and scheme are used.)"""
    if settings.redis_cluster_nodes or not settings.redis_url:
        return
    if problem := url_problem(settings.redis_url):  # not quoted back: it may hold a password
        raise ConfigError(f"invalid configuration: REDIS_URL: {problem}")


def build_store(
    settings: Settings,
    *,
    observer: StorageObserver | None = None,
    history_group: EvictionGroup = _no_group,
    copy_back: Callable[[str], bool] = _never,
    conversation_of: Callable[[str], str | None] = _no_group,
    tombstone: Tombstone = _nothing_left,
) -> KeyValueStore:
    """Redis Cluster if ``REDIS_CLUSTER_NODES`` (credentials and TLS from ``REDIS_URL``),
    Redis if ``REDIS_URL``, else memory.

    Redis stores come wrapped in ``FailoverStore``; call its ``connect()`` at
    start so an unreachable Redis is reported at boot. ``history_group`` names
    the keys that are conversation history (``conversation_key_group``): the
    memory store evicts only those, and the failover copies them back to Redis
    after an outage, with the keys ``copy_back`` names (burned ack nonces).
    Limit counters stay behind: Redis kept its own. ``conversation_of`` names a
    history key's conversation in the line that reports an outage's writes lost.

    ``tombstone`` (``conversation_tombstone``): what an evicted key leaves behind,
    in memory-only mode only. As Redis's fallback, memory evicts a conversation
    that Redis holds, or gets back from the journal when it returns: during the
    outage it is refused as unavailable, then it is found again.
    """
    check_store_settings(settings)
    memory_only = not (settings.redis_cluster_nodes or settings.redis_url)
    memory = MemoryStore(
        max_keys=settings.memory_store_max_keys,
        eviction_group=history_group,
        tombstone=tombstone if memory_only else _nothing_left,
    )
    timeout_s = settings.redis_command_timeout_ms / 1000
    primary: RedisStore
    if settings.redis_cluster_nodes:
        primary = RedisClusterStore.from_nodes(
            settings.redis_cluster_nodes,
            pool_size=settings.redis_pool_size,
            timeout_s=timeout_s,
            url=settings.redis_url,
        )
    elif settings.redis_url:
        primary = RedisStore.from_url(
            settings.redis_url, pool_size=settings.redis_pool_size, timeout_s=timeout_s
        )
    else:
        return memory
    return FailoverStore(
        primary,
        fallback=memory,
        min_backoff_s=settings.redis_reconnect_min_backoff_ms / 1000,
        max_backoff_s=settings.redis_reconnect_max_backoff_ms / 1000,
        observer=observer,
        replay=lambda key: history_group(key) is not None or copy_back(key),
        journal_max=settings.memory_store_max_keys,
        conversation_of=conversation_of,
    )


def build_limiter(
    settings: Settings, store: KeyValueStore, *, observer: LimitObserver | None = None
) -> LeaseLimiter:
    """The limiter matching ``store``: shared in Redis, or per process in memory."""
    limits = tier_limits(settings)
    ttl = settings.lease_ttl_ms
    if isinstance(store, FailoverStore) and isinstance(store.primary, RedisStore):
        primary = store.primary
        return FailoverLimiter(store, primary, limits, lease_ttl_ms=ttl, observer=observer)
    return LeaseLimiter(MemoryAdmission(), limits, lease_ttl_ms=ttl, observer=observer)
