"""An admission or top-up Redis ran but did not answer is charged once.

A connection can die after Redis ran the script and before its answer
arrived; redis-py's one retry then sends the same call again on a new
connection, and the script runs twice. The second run charged the tokens again
(``_total`` stayed inflated for as long as the subject kept sending) and, at a
concurrency limit of 1, saw the first run's lease and refused: the caller was
told "concurrency" while a lease nobody would release held the slot until its
TTL. (A command that timed out is not retried: see test_failover.)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from novaos.domain import Tier
from novaos.limits import LimitSubject, TierLimits
from novaos.limits.model import AdmitRequest, LeaseGrant, limit_keys
from novaos.storage import RedisAdmission, RedisStore
from tests.fixtures.cutting_proxy import CuttingProxy
from tests.fixtures.redis_server import RedisServer


@pytest.fixture
async def cuttable(
    tmp_path: Path,
) -> AsyncIterator[tuple[RedisServer, CuttingProxy, RedisAdmission]]:
    server = RedisServer(tmp_path / "redis").start()
    async with CuttingProxy(server.port).running() as proxy:
        store = RedisStore.from_url(proxy.url, pool_size=4, timeout_s=2)
        try:
            yield server, proxy, RedisAdmission(store)
        finally:
            await store.aclose()
            server.kill()


async def _answer_cut(proxy: CuttingProxy, call: Callable[[], Awaitable[object]]) -> object:
    proxy.cut_next_reply = True
    result = await call()  # ran, answer lost, sent again by redis-py's retry
    assert proxy.cuts == 1, "the first answer should have been cut"
    return result


def _charged(server: RedisServer, subject: LimitSubject) -> tuple[int, int, int]:
    """(requests in the window, tokens reserved, leases held)."""
    requests, _, amounts, leases = limit_keys(subject)
    return (
        int(server.cli("ZCARD", requests).strip()),
        int(server.cli("HGET", amounts, "_total").strip() or 0),
        int(server.cli("ZCARD", leases).strip()),
    )


async def test_an_admission_run_twice_by_a_retry_admits_and_charges_once(
    cuttable: tuple[RedisServer, CuttingProxy, RedisAdmission],
) -> None:
    server, proxy, admission = cuttable
    subject = LimitSubject(f"once-{uuid.uuid4().hex}", Tier.FREE)
    request = AdmitRequest(subject, TierLimits(100, 10_000, 1), "lease-1", 300, 30_000)
    warm = AdmitRequest(LimitSubject("warm-up", Tier.FREE), request.limits, "w", 1, 30_000)
    assert isinstance(await admission.admit(warm), LeaseGrant)  # a connection, the script loaded
    granted = await _answer_cut(proxy, lambda: admission.admit(request))
    assert isinstance(granted, LeaseGrant), granted
    assert _charged(server, subject) == (1, 300, 1)
    await admission.release(granted, 120)
    assert _charged(server, subject) == (1, 120, 0)  # nothing left behind


async def test_a_top_up_run_twice_by_a_retry_charges_once(
    cuttable: tuple[RedisServer, CuttingProxy, RedisAdmission],
) -> None:
    server, proxy, admission = cuttable
    subject = LimitSubject(f"once-{uuid.uuid4().hex}", Tier.FREE)
    grant = await admission.admit(
        AdmitRequest(subject, TierLimits(100, 10_000, 2), "lease-1", 300, 30_000)
    )
    assert isinstance(grant, LeaseGrant)
    topped = await _answer_cut(proxy, lambda: admission.top_up(grant, 200))
    assert getattr(topped, "admitted", False), topped
    assert _charged(server, subject) == (1, 500, 1)
    again = await admission.top_up(grant, 50)  # a later top-up still counts
    assert again.admitted
    assert _charged(server, subject) == (1, 550, 1)
