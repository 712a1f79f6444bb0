"""Slow clients: a trickled request body is cut; a long streamed answer is not.

A client that sent headers with ``Content-Length: 100000`` and then one body byte
every few seconds kept its connection (a descriptor and buffers) forever: the
sidecar had a headers timeout and an idle timeout, which every byte resets, but
no limit on receiving the whole request. Thousands of such connections took
every descriptor Envoy had. Envoy's ``request_timeout`` is disarmed once the
request has gone upstream, so it never limits how long an answer may stream.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.common import wait_until
from tests.fixtures.envoy import EnvoySidecar, sidecar_for
from tests.fixtures.gateway_thread import GatewayThread, fresh_token
from tests.integration.envoy.helpers import bearer, client, sse_events

REQUEST_TIMEOUT_MS = 1000
# The answer streams for 80 x 50 ms = 4 s at least: four request timeouts.
TOKEN_DELAY_MS, TOKENS = 50, 80
MAX_CONNECTIONS = 40
GIVE_UP_S = 30  # far beyond the timeout: only reached when nothing cuts the client


@pytest.fixture(scope="module")
def paced_gateway() -> Iterator[GatewayThread]:
    with GatewayThread(
        MOCK_TOKEN_DELAY_MS=str(TOKEN_DELAY_MS), MOCK_RESPONSE_TOKENS=str(TOKENS)
    ) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def timed_sidecar(
    paced_gateway: GatewayThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnvoySidecar]:
    yield from sidecar_for(
        paced_gateway,
        tmp_path_factory.mktemp("envoy-slow-clients"),
        ENVOY_REQUEST_TIMEOUT_MS=str(REQUEST_TIMEOUT_MS),
        ENVOY_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    )


def _trickle_body(port: int, result: dict[str, bytes]) -> None:
    """A chat request whose body never finishes: one byte every 0.2 s until Envoy
    answers and closes, or ``GIVE_UP_S`` passes. Keeps what Envoy wrote."""
    head = (
        b"POST /api/v1/chat/stream HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: 100000\r\n\r\n" + b'{"message":"'
    )
    reply = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        sock.settimeout(0.2)
        deadline = time.monotonic() + GIVE_UP_S
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                try:
                    sock.sendall(b"a")
                except OSError:
                    result["closed"] = b"yes"  # reset by Envoy
                    break
                continue
            except OSError:
                result["closed"] = b"yes"
                break
            if not chunk:
                result["closed"] = b"yes"
                break
            reply += chunk
    result["reply"] = reply


def test_a_trickled_body_is_cut_while_a_longer_stream_completes(
    timed_sidecar: EnvoySidecar,
) -> None:
    slow: dict[str, bytes] = {}
    trickler = threading.Thread(target=_trickle_body, args=(timed_sidecar.http_port, slow))
    trickler.start()
    events: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        with (
            client(timed_sidecar) as http,
            http.stream(
                "POST",
                "/api/v1/chat/stream",
                json={"message": "plan my week please"},
                headers=bearer(fresh_token("pro")),
            ) as resp,
        ):
            assert resp.status_code == 200
            events.extend(sse_events(resp))
        streamed_s = time.monotonic() - started
    finally:
        trickler.join(GIVE_UP_S + 10)
    # The answer outlived the request timeout several times over and still ended
    # with its terminal event.
    assert streamed_s > REQUEST_TIMEOUT_MS / 1000
    assert "completed" in events[-1], events[-1]
    assert events[-1]["completed"]["outcome"] == "OUTCOME_COMPLETED"
    # The trickler got Envoy's 408 and a closed connection, not an endless wait.
    assert slow.get("reply", b"").startswith(b"HTTP/1.1 408"), slow
    assert slow.get("closed") == b"yes"


def _overflowed(sidecar: EnvoySidecar) -> int:
    text = httpx.get(sidecar.admin_url + "/stats?filter=downstream_global_cx_overflow").text
    return sum(int(line.rpartition(":")[2]) for line in text.splitlines() if line.strip())


def test_a_connection_flood_is_capped_and_the_sidecar_recovers(
    timed_sidecar: EnvoySidecar,
) -> None:
    head = b"POST /api/v1/chat HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n{"
    before = _overflowed(timed_sidecar)
    flood = []
    try:
        for _ in range(MAX_CONNECTIONS + 20):
            sock = socket.create_connection(("127.0.0.1", timed_sidecar.http_port), timeout=5)
            flood.append(sock)
            with contextlib.suppress(OSError):
                sock.sendall(head)
        # Connections past the cap are closed as they arrive, so Envoy keeps
        # descriptors (and memory) for everyone else ...
        wait_until(lambda: _overflowed(timed_sidecar) - before >= 20, timeout_s=20, what="overflow")
        # ... and the held ones are cut by the request timeout, so new callers get in.
        wait_until(lambda: _ready(timed_sidecar) == 200, timeout_s=20, what="/ready again")
    finally:
        for sock in flood:
            sock.close()


def _ready(sidecar: EnvoySidecar) -> int:
    try:
        return httpx.get(sidecar.http_url + "/ready", timeout=2).status_code
    except httpx.TransportError:
        return 0
