"""Per-tier limits, read once from Settings (names from the guide)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from novaos.config import Settings
from novaos.domain import Tier

WINDOW_MS = 60_000  # every rate is "per minute", over a sliding minute


@dataclass(frozen=True, slots=True)
class TierLimits:
    requests_per_minute: int
    tokens_per_minute: int
    concurrency: int


def tier_limits(settings: Settings) -> Mapping[Tier, TierLimits]:
    return {
        Tier.FREE: TierLimits(
            settings.rate_limit_free, settings.token_limit_free, settings.concurrency_limit_free
        ),
        Tier.PRO: TierLimits(
            settings.rate_limit_pro, settings.token_limit_pro, settings.concurrency_limit_pro
        ),
        Tier.ENTERPRISE: TierLimits(
            settings.rate_limit_enterprise,
            settings.token_limit_enterprise,
            settings.concurrency_limit_enterprise,
        ),
    }
