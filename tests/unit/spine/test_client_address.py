"""Which address a call is limited and audited under, behind Envoy and a load balancer."""

from __future__ import annotations

import pytest

from novaos.transport.context import forwarded_client, peer_ip


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        # the load balancer appended the client, Envoy appended the balancer
        ("203.0.113.7, 10.0.0.2", "203.0.113.7"),
        # whatever the client sent itself stays to the left and is never taken
        ("6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        ("6.6.6.6,5.5.5.5 , 203.0.113.7,10.0.0.2", "203.0.113.7"),
        ("2001:db8::7, 10.0.0.2", "2001:db8::7"),
        ("10.0.0.2", "10.0.0.2"),  # no balancer entry: the closest address known
        ("", ""),
        (" , ", ""),
    ],
)
def test_the_client_is_the_entry_the_trusted_balancer_appended(forwarded: str, client: str) -> None:
    assert forwarded_client(forwarded) == client


def test_peer_addresses() -> None:
    assert peer_ip("ipv4:127.0.0.1:5000") == "127.0.0.1"
    assert peer_ip("ipv6:[::1]:5000") == "::1"
