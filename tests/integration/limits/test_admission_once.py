"""An admission or top-up Redis ran but did not answer in time is charged once.

A Redis that stalls past the command timeout still runs the script queued on
the socket when it wakes, and redis-py's retry sends the same call again on a
new connection: the script ran twice. The second run charged the tokens again
(``_total`` stayed inflated for as long as the subject kept sending) and, at a
concurrency limit of 1, saw the first run's lease and refused: when that refusal
was the run answered (Redis may serve the retry's connection first or last), the
caller was told "concurrency" while a lease nobody would release held the slot
until its TTL.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from novaos.domain import Tier
from novaos.limits import LimitSubject, TierLimits
from novaos.limits.model import AdmitRequest, LeaseGrant, limit_keys
from novaos.storage import RedisAdmission, RedisStore
from tests.fixtures.common import wait_until
from tests.fixtures.redis_server import RedisServer

_TIMEOUT_S = 0.5
# Awake before the retry's own timeout: the retry's run is the one answered.
_STALL_S = 1.6 * _TIMEOUT_S


@pytest.fixture
async def stallable(tmp_path: Path) -> AsyncIterator[tuple[RedisServer, RedisAdmission]]:
    server = RedisServer(tmp_path / "redis", extra_args=("--enable-debug-command", "yes")).start()
    store = RedisStore.from_url(server.url, pool_size=4, timeout_s=_TIMEOUT_S)
    try:
        yield server, RedisAdmission(store)
    finally:
        await store.aclose()
        server.kill()


async def _during_a_stall(server: RedisServer, call: Callable[[], Awaitable[object]]) -> object:
    with socket.create_connection(("127.0.0.1", server.port)) as sleeper:
        sleeper.sendall(f"DEBUG SLEEP {_STALL_S}\r\n".encode())
        wait_until(lambda: not server.answers_promptly(), timeout_s=5, what="Redis stalled")
        result = await call()  # queued on the socket; runs (twice) when Redis wakes
        assert sleeper.recv(16) == b"+OK\r\n"  # the stall is over
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
    stallable: tuple[RedisServer, RedisAdmission],
) -> None:
    server, admission = stallable
    subject = LimitSubject(f"once-{uuid.uuid4().hex}", Tier.FREE)
    request = AdmitRequest(subject, TierLimits(100, 10_000, 2), "lease-1", 300, 30_000)
    warm = AdmitRequest(LimitSubject("warm-up", Tier.FREE), request.limits, "w", 1, 30_000)
    assert isinstance(await admission.admit(warm), LeaseGrant)  # a connection, the script loaded
    granted = await _during_a_stall(server, lambda: admission.admit(request))
    assert isinstance(granted, LeaseGrant), granted
    assert _charged(server, subject) == (1, 300, 1)
    await admission.release(granted, 120)
    assert _charged(server, subject) == (1, 120, 0)  # nothing left behind


async def test_a_top_up_run_twice_by_a_retry_charges_once(
    stallable: tuple[RedisServer, RedisAdmission],
) -> None:
    server, admission = stallable
    subject = LimitSubject(f"once-{uuid.uuid4().hex}", Tier.FREE)
    grant = await admission.admit(
        AdmitRequest(subject, TierLimits(100, 10_000, 2), "lease-1", 300, 30_000)
    )
    assert isinstance(grant, LeaseGrant)
    topped = await _during_a_stall(server, lambda: admission.top_up(grant, 200))
    assert getattr(topped, "admitted", False), topped
    assert _charged(server, subject) == (1, 500, 1)
    again = await admission.top_up(grant, 50)  # a later top-up still counts
    assert again.admitted
    assert _charged(server, subject) == (1, 550, 1)
