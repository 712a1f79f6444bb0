"""The Redis script agrees with the naive model (simulated clock passed as ARGV)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings

from novaos.domain import Tier
from novaos.limits import LimitSubject
from novaos.storage import RedisAdmission, RedisStore
from tests.fixtures.admission_model import ops
from tests.unit.limits.test_admission_properties import run_against_model


@pytest.fixture(scope="module")
async def admission(redis_server: object) -> AsyncIterator[RedisAdmission]:
    from tests.fixtures.redis_server import RedisServer

    assert isinstance(redis_server, RedisServer)
    store = RedisStore.from_url(redis_server.url, pool_size=2, timeout_s=2)
    try:
        yield RedisAdmission(store)
    finally:
        await store.aclose()


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=ops)
async def test_redis_script_matches_model(
    admission: RedisAdmission, steps: list[tuple[object, ...]]
) -> None:
    subject = LimitSubject(f"user-{uuid.uuid4().hex}", Tier.PRO)
    await run_against_model(admission, subject, steps)
