"""The sidecar's drain sends its HTTP/2 clients away while their open streams finish.

The pod's preStop (``python -m novaos.sidecar.drain``) asks Envoy to drain before the
gateway starts its own: a gRPC client on a kept-alive connection gets a GOAWAY (its
channel leaves READY, so its next call opens a new connection, to another pod once
this one's endpoint is gone) instead of "no healthy upstream" on that connection for
the whole grace.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc, health_pb2, health_pb2_grpc
from novaos.sidecar.drain import start_drain
from tests.fixtures.common import wait_until
from tests.fixtures.envoy import EnvoySidecar, Upstream, run_sidecar
from tests.fixtures.gateway_thread import GatewayThread
from tests.fixtures.server import bearer
from tests.integration.envoy.grpc_helpers import tls_channel


@pytest.fixture
def slow_gateway() -> Iterator[GatewayThread]:
    """Answers of 60 tokens at 100 ms each: a stream outlasts the drain's start."""
    with GatewayThread(MOCK_TOKEN_DELAY_MS="100", MOCK_RESPONSE_TOKENS="60") as gateway:
        yield gateway


@pytest.fixture
def sidecar(slow_gateway: GatewayThread, tmp_path: Path) -> Iterator[EnvoySidecar]:
    """A sidecar of its own: once drained it takes no new connections."""
    upstream = Upstream("127.0.0.1", slow_gateway.port, slow_gateway.token)
    yield from run_sidecar(upstream, tmp_path)


def test_after_the_drain_starts_a_call_is_answered_then_the_client_goes_elsewhere(
    sidecar: EnvoySidecar, slow_gateway: GatewayThread
) -> None:
    states: list[grpc.ChannelConnectivity] = []
    connections = f"listener.127.0.0.1_{sidecar.https_port}.downstream_cx_total"
    with tls_channel(sidecar) as channel:
        health = health_pb2_grpc.HealthServiceStub(channel)
        health.Live(health_pb2.LiveRequest(), timeout=10)
        channel.subscribe(states.append)
        wait_until(lambda: states[-1:] == [grpc.ChannelConnectivity.READY], what="READY")
        request = chat_pb2.StreamChatRequest(message="tell me a long story")
        stream = chat_pb2_grpc.ChatServiceStub(channel).StreamChat(
            request, metadata=bearer(slow_gateway.token), timeout=60
        )
        events = [next(stream)]  # the stream is open on this connection
        assert sidecar.counter(connections) == 1

        assert start_drain(sidecar.admin_port) is None

        # Envoy sends the GOAWAY with the next answer on a connection (not at once:
        # envoyproxy/envoy#14350), so the call is answered and the channel leaves READY.
        assert health.Live(health_pb2.LiveRequest(), timeout=10).status == "ok"
        wait_until(
            lambda: states[-1] != grpc.ChannelConnectivity.READY,
            timeout_s=5,
            what="the channel to leave READY (a GOAWAY)",
        )
        # The next call goes to a new connection (here the same Envoy, which has not
        # closed its listener yet; in a cluster, another pod once the endpoint is gone).
        assert health.Live(health_pb2.LiveRequest(), timeout=10).status == "ok"
        assert sidecar.counter(connections) == 2
        # And the stream opened before the drain finishes on the old connection.
        assert slow_gateway.active_provider_streams() == 1, "the stream was cut"
        events.extend(stream)
        channel.unsubscribe(states.append)
    assert events[-1].completed.outcome == chat_pb2.OUTCOME_COMPLETED, events[-1]
    assert sidecar.counter("http.https.downstream_cx_drain_close") >= 1
