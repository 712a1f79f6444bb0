"""ENVOY_ALLOWED_HOSTS: the sidecar answers only the Host names it lists.

It answered any Host: a site the developer visited while ``make run`` was up
could rebind its own name to 127.0.0.1, load the chat page under that name, read
the dev token it embeds and call the API with it (security tester, F3). Probes,
which name the pod's IP, still get ``/health`` and ``/ready``.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc, health_pb2, health_pb2_grpc
from novaos.sidecar.envoy_routes import MISDIRECTED
from tests.fixtures.envoy import EnvoySidecar, sidecar_for
from tests.fixtures.gateway_thread import GatewayThread
from tests.integration.envoy.helpers import client

LOOPBACK = "localhost,127.0.0.1,[::1]"
FOREIGN = "attacker.example"


@pytest.fixture(scope="module")
def loopback_sidecar(
    gateway_thread: GatewayThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnvoySidecar]:
    workdir = tmp_path_factory.mktemp("envoy-hosts")
    yield from sidecar_for(gateway_thread, workdir, ENVOY_ALLOWED_HOSTS=LOOPBACK)


def _plain(sidecar: EnvoySidecar) -> httpx.Client:
    return httpx.Client(base_url=sidecar.http_url, timeout=20)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "LocalHost"])
def test_a_loopback_name_is_served_with_or_without_the_port(
    loopback_sidecar: EnvoySidecar, host: str
) -> None:
    port = loopback_sidecar.http_port
    with _plain(loopback_sidecar) as http:
        for authority in (host, f"{host}:{port}"):
            page = http.get("/", headers={"host": authority})
            assert page.status_code == 200, (authority, page.text[:200])
            assert "<html" in page.text.lower()
    with client(loopback_sidecar) as https:  # Host: localhost:<https port>
        assert https.get("/").status_code == 200


@pytest.mark.parametrize(
    "authority", [FOREIGN, f"{FOREIGN}:{{port}}", "localhost.attacker.example"]
)
def test_another_host_is_refused_page_and_api_alike(
    loopback_sidecar: EnvoySidecar, gateway_thread: GatewayThread, authority: str
) -> None:
    host = authority.format(port=loopback_sidecar.http_port)
    token = {"authorization": f"Bearer {gateway_thread.token}"}
    with _plain(loopback_sidecar) as http:
        page = http.get("/", headers={"host": host})
        chat = http.post(
            "/api/v1/chat", headers={"host": host, **token}, json={"message": "hello there"}
        )
        listed = http.get("/api/v1/conversations", headers={"host": host, **token})
    assert page.status_code == 421 and "novaos-dev-token" not in page.text
    assert "<html" not in page.text.lower()
    for reply in (chat, listed):
        assert reply.status_code == 421, reply.text
        assert reply.json() == {"code": 7, "message": MISDIRECTED}
        assert reply.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_probes_naming_the_pods_address_still_pass(
    loopback_sidecar: EnvoySidecar, path: str
) -> None:
    # A kubelet's httpGet probe sends Host: <pod IP>:<port>.
    probe = {"host": f"10.1.2.3:{loopback_sidecar.https_port}"}
    with client(loopback_sidecar) as https:
        got = https.get(path, headers=probe)
        head = https.head(path, headers=probe)
    assert (got.status_code, head.status_code) == (200, 200), got.text
    assert got.json()["status"] in ("ok", "ready")


def test_grpc_callers_are_checked_by_authority_too(loopback_sidecar: EnvoySidecar) -> None:
    creds = grpc.ssl_channel_credentials(loopback_sidecar.ca_file.read_bytes())
    options = [("grpc.ssl_target_name_override", "localhost"), ("grpc.default_authority", FOREIGN)]
    target = f"127.0.0.1:{loopback_sidecar.https_port}"
    with grpc.secure_channel(target, creds, options=options) as channel:
        live = health_pb2_grpc.HealthServiceStub(channel).Live(health_pb2.LiveRequest(), timeout=10)
        assert live.status == "ok", "the probe path answers any authority"
        with pytest.raises(grpc.RpcError) as refused:
            chat_pb2_grpc.ChatServiceStub(channel).Chat(
                chat_pb2.ChatRequest(message="hello there"), timeout=10
            )
    # Envoy's own mapping of an HTTP 421 (no gRPC code fits a wrong authority better).
    assert refused.value.code() == grpc.StatusCode.UNKNOWN
    assert refused.value.details() == MISDIRECTED
