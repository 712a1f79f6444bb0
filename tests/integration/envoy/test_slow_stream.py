"""A slow provider through Envoy: held-back text must not let the sidecar cut the stream.

The upstream drips tokens fast enough for the gateway's own idle timer
(``STREAM_IDLE_TIMEOUT_MS``, provider silence) but never ends a sentence, so the
output check holds all of it. Envoy's stream idle timer (that timeout + 5 s)
counts silence towards the browser; the gateway's keepalives reset it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.envoy import EnvoySidecar, sidecar_for
from tests.fixtures.fake_providers import FakeProviderServer, Reply, paced
from tests.fixtures.gateway_thread import GatewayThread, fresh_token
from tests.fixtures.provider_wire import openai_stream
from tests.integration.envoy.helpers import bearer, client, sse_events

IDLE_MS = 1000  # Envoy's stream idle timeout becomes 6 s
TOKEN_GAP_S = 0.3  # well inside the gateway's idle timeout
# One sentence of ~130 characters: held whole (hold-back 160), over ~8 s of parts.
ANSWER = (
    "a local model on a small CPU writes this answer one word at a time and keeps "
    "going for quite a while before it reaches the end of its only sentence."
)
TOKENS = [word + " " for word in ANSWER.split()]
TOKENS[-1] = TOKENS[-1].rstrip()


@pytest.fixture(scope="module")
def slow_gateway() -> Iterator[tuple[GatewayThread, FakeProviderServer]]:
    gateway = GatewayThread()
    upstream = gateway.run(FakeProviderServer().start())
    upstream.default = Reply(body=paced(openai_stream(TOKENS, (12, len(TOKENS))), TOKEN_GAP_S))
    try:
        gateway.start(
            PREFERRED_PROVIDER="openai",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=upstream.url + "/v1",
            STREAM_IDLE_TIMEOUT_MS=str(IDLE_MS),
        )
        yield gateway, upstream
    finally:
        gateway.run(upstream.close())
        gateway.stop()


@pytest.fixture(scope="module")
def slow_sidecar(
    slow_gateway: tuple[GatewayThread, FakeProviderServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EnvoySidecar]:
    gateway, _ = slow_gateway
    # The sidecar renders its timeouts from the same settings the gateway reads.
    workdir = tmp_path_factory.mktemp("envoy-slow")
    yield from sidecar_for(gateway, workdir, STREAM_IDLE_TIMEOUT_MS=str(IDLE_MS))


def test_slow_held_back_answer_survives_envoy_idle_timeout_and_completes(
    slow_sidecar: EnvoySidecar,
) -> None:
    events: list[dict[str, Any]] = []
    cut = ""
    started = time.monotonic()
    with (
        client(slow_sidecar) as http,
        http.stream(
            "POST", "/api/v1/chat/stream", json={"message": "hello"}, headers=bearer(fresh_token())
        ) as resp,
    ):
        assert resp.status_code == 200
        try:
            events.extend(sse_events(resp))
        except httpx.RemoteProtocolError as err:  # Envoy reset the stream (flag SI)
            cut = str(err)
    elapsed = time.monotonic() - started
    kinds = [next(iter(e)) for e in events]
    assert not cut, f"cut after {elapsed:.1f} s, having seen {kinds}: {cut}"
    # The answer took longer than Envoy's idle timeout with no text released before its end.
    assert elapsed > IDLE_MS / 1000 + 5, elapsed
    assert kinds.count("completed") == 1 and kinds[-1] == "completed", kinds
    assert events[-1]["completed"]["outcome"] == "OUTCOME_COMPLETED"
    assert "".join(e["delta"]["text"] for e in events if "delta" in e) == "".join(TOKENS)
    assert "keepalive" in kinds
