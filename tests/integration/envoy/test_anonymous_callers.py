"""REQUIRE_AUTH=false behind the sidecar: each client address is its own caller.

The gateway took the peer address of every call, and behind Envoy that is always
127.0.0.1: all anonymous callers were one ``ip:127.0.0.1``, who could read and
delete each other's conversations and spent one free-tier budget between them.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.envoy import EnvoySidecar, sidecar_for
from tests.fixtures.gateway_thread import GatewayThread


@pytest.fixture(scope="module")
def open_sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnvoySidecar]:
    with GatewayThread(REQUIRE_AUTH="false") as gateway:
        yield from sidecar_for(gateway, tmp_path_factory.mktemp("envoy-anonymous"))


def _from(sidecar: EnvoySidecar, address: str) -> httpx.Client:
    """A client whose connections leave from ``address`` (any 127.x is loopback)."""
    ctx = ssl.create_default_context(cafile=str(sidecar.ca_file))
    transport = httpx.HTTPTransport(verify=ctx, local_address=address)
    return httpx.Client(base_url=sidecar.https_url, transport=transport, timeout=20)


def _conversations(http: httpx.Client, **headers: str) -> set[str]:
    listed = http.get("/api/v1/conversations", headers=headers)
    assert listed.status_code == 200, listed.text
    return {c["conversation_id"] for c in listed.json().get("conversations", [])}


def test_two_addresses_are_two_callers_and_a_forged_header_changes_nothing(
    open_sidecar: EnvoySidecar,
) -> None:
    with _from(open_sidecar, "127.0.0.2") as alice, _from(open_sidecar, "127.0.0.3") as bob:
        said = alice.post("/api/v1/chat", json={"message": "my diary: I love pineapples"})
        assert said.status_code == 200, said.text
        conversation = said.json()["conversation_id"]
        assert (
            said.headers["x-ratelimit-remaining"]
            == bob.post("/api/v1/chat", json={"message": "hello"}).headers["x-ratelimit-remaining"]
        ), "one budget for two callers"

        assert conversation in _conversations(alice)
        assert conversation not in _conversations(bob)
        # What a client writes into X-Forwarded-For itself is left of Envoy's entry.
        assert conversation not in _conversations(bob, **{"x-forwarded-for": "127.0.0.2"})
        peek = bob.get(f"/api/v1/conversations/{conversation}")
        assert peek.status_code == 404, peek.text
