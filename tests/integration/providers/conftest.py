"""The router tests' two fake upstreams and the router over them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fixtures.fake_providers import StartServer
from tests.integration.providers.test_router import (
    Pair,
    RecordingObserver,
    StepClock,
    build_router,
)


@pytest.fixture
async def pair(fake_server: StartServer) -> AsyncIterator[Pair]:
    primary, secondary = await fake_server(), await fake_server()
    clock, observer = StepClock(), RecordingObserver()
    router = build_router(primary.url, secondary.url, clock, observer)
    yield Pair(primary, secondary, router, clock, observer)
    await router.aclose()
