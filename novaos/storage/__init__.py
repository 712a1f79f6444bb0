"""Key-value store adapters: memory, Redis, Redis Cluster, and the failover wrapper."""

from novaos.storage.factory import (
    FailoverLimiter,
    RedisLimiter,
    build_limiter,
    build_store,
    check_store_settings,
)
from novaos.storage.failover import (
    FALLBACK_MESSAGE,
    FailoverStore,
    NullStorageObserver,
    StorageObserver,
)
from novaos.storage.memory import MemoryStore
from novaos.storage.redis_admission import RedisAdmission
from novaos.storage.redis_store import RedisClusterStore, RedisStore

__all__ = [
    "FALLBACK_MESSAGE",
    "FailoverLimiter",
    "FailoverStore",
    "MemoryStore",
    "NullStorageObserver",
    "RedisAdmission",
    "RedisClusterStore",
    "RedisLimiter",
    "RedisStore",
    "StorageObserver",
    "build_limiter",
    "build_store",
    "check_store_settings",
]
