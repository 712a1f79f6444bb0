"""Which address a call is limited and audited under, behind Envoy and a load balancer."""

from __future__ import annotations

import pytest

from novaos.supervisor import concrete_port
from novaos.transport.context import client_address, forwarded_client, peer_ip
from novaos.transport.server import grpc_address


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
    # as grpcio gives it: a URI, brackets percent-encoded
    assert peer_ip("ipv6:%5B::1%5D:38324") == "::1"
    assert peer_ip("ipv6:%5B2001:db8::5%5D:443") == "2001:db8::5"


@pytest.mark.parametrize(
    ("peer", "forwarded", "behind_balancer", "client"),
    [
        # through the sidecar (a loopback peer): the address Envoy appended
        ("ipv4:127.0.0.1:5000", "127.0.0.2", False, "127.0.0.2"),
        ("ipv4:127.0.0.1:5000", "6.6.6.6, 198.51.100.4", False, "198.51.100.4"),
        ("ipv6:[::1]:5000", "198.51.100.4", False, "198.51.100.4"),
        ("ipv6:%5B::1%5D:38324", "198.51.100.4", False, "198.51.100.4"),
        ("ipv6:[::ffff:127.0.0.1]:5000", "198.51.100.4", False, "198.51.100.4"),
        ("ipv4:127.0.0.1:5000", "203.0.113.7, 10.0.0.2", True, "203.0.113.7"),
        ("ipv4:127.0.0.1:5000", "", False, "127.0.0.1"),  # a local process, no header
        # a direct caller: its header is its own claim, never taken
        ("ipv4:10.1.2.3:5000", "127.0.0.2", False, "10.1.2.3"),
        ("ipv4:10.1.2.3:5000", "203.0.113.7, 10.0.0.2", True, "10.1.2.3"),
        ("ipv6:[2001:db8::5]:5000", "198.51.100.4", True, "2001:db8::5"),
        ("ipv6:%5B2001:db8::5%5D:5000", "198.51.100.4", True, "2001:db8::5"),
        ("unix:/run/novaos.sock", "198.51.100.4", False, "/run/novaos.sock"),
    ],
)
def test_the_sidecar_names_the_client_and_direct_callers_are_their_own_address(
    peer: str, forwarded: str, behind_balancer: bool, client: str
) -> None:
    # Every anonymous caller through Envoy was one ip:127.0.0.1, sharing one
    # conversation list and one free-tier budget.
    assert client_address(peer, forwarded, behind_balancer=behind_balancer) == client


def test_an_ipv6_grpc_host_is_bracketed_and_given_a_port() -> None:
    # GRPC_HOST=::1 was "::1:0" to gRPC (no such address), and WORKERS>1 looked for
    # a free port with an IPv4 socket.
    assert grpc_address("::1", 50051) == "[::1]:50051"
    assert grpc_address("[::]", 50051) == "[::]:50051"
    assert grpc_address("127.0.0.1", 50051) == "127.0.0.1:50051"
    assert concrete_port("::1", 0) > 0 and concrete_port("::1", 7) == 7
