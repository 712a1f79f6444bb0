"""Per-tier requests/min, tokens/min and concurrency leases (atomic in Redis).

Domain code: the Redis backend lives in ``novaos.storage.redis_admission``.
"""

from novaos.limits.failover import FailoverAdmission
from novaos.limits.limiter import LeaseLimiter, MemoryLimiter, PrincipalAdmission
from novaos.limits.memory import MemoryAdmission
from novaos.limits.model import (
    CONCURRENCY,
    REQUESTS,
    TOKENS,
    Lease,
    Limiter,
    LimitObserver,
    LimitSubject,
    NullLimitObserver,
)
from novaos.limits.tiers import TierLimits, tier_limits

__all__ = [
    "CONCURRENCY",
    "REQUESTS",
    "TOKENS",
    "FailoverAdmission",
    "Lease",
    "LeaseLimiter",
    "LimitObserver",
    "LimitSubject",
    "Limiter",
    "MemoryAdmission",
    "MemoryLimiter",
    "NullLimitObserver",
    "PrincipalAdmission",
    "TierLimits",
    "tier_limits",
]
