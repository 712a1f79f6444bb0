"""Which address a call is limited and audited under, behind Envoy and a load balancer."""

from __future__ import annotations

import pytest

from novaos.transport.context import client_address, forwarded_client, peer_ip


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


@pytest.mark.parametrize(
    ("peer", "forwarded", "behind_balancer", "client"),
    [
        # through the sidecar (a loopback peer): the address Envoy appended
        ("ipv4:127.0.0.1:5000", "127.0.0.2", False, "127.0.0.2"),
        ("ipv4:127.0.0.1:5000", "6.6.6.6, 198.51.100.4", False, "198.51.100.4"),
        ("ipv6:[::1]:5000", "198.51.100.4", False, "198.51.100.4"),
        ("ipv6:[::ffff:127.0.0.1]:5000", "198.51.100.4", False, "198.51.100.4"),
        ("ipv4:127.0.0.1:5000", "203.0.113.7, 10.0.0.2", True, "203.0.113.7"),
        ("ipv4:127.0.0.1:5000", "", False, "127.0.0.1"),  # a local process, no header
        # a direct caller: its header is its own claim, never taken
        ("ipv4:10.1.2.3:5000", "127.0.0.2", False, "10.1.2.3"),
        ("ipv4:10.1.2.3:5000", "203.0.113.7, 10.0.0.2", True, "10.1.2.3"),
        ("ipv6:[2001:db8::5]:5000", "198.51.100.4", True, "2001:db8::5"),
        ("unix:/run/novaos.sock", "198.51.100.4", False, "/run/novaos.sock"),
    ],
)
def test_the_sidecar_names_the_client_and_direct_callers_are_their_own_address(
    peer: str, forwarded: str, behind_balancer: bool, client: str
) -> None:
    # Every anonymous caller through Envoy was one ip:127.0.0.1, sharing one
    # conversation list and one free-tier budget.
    assert client_address(peer, forwarded, behind_balancer=behind_balancer) == client
