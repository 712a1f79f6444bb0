"""The refusal-header scenarios of the memory backend, against the Redis script."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from novaos.storage import RedisAdmission, RedisStore
from tests.unit.limits.test_refusal_headers import SCENARIOS, Scenario


@pytest.fixture
async def admission(redis_url: str) -> AsyncIterator[RedisAdmission]:
    store = RedisStore.from_url(redis_url, pool_size=4, timeout_s=5)
    try:
        yield RedisAdmission(store)
    finally:
        await store.aclose()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_redis(admission: RedisAdmission, scenario: Scenario) -> None:
    await scenario(admission)
