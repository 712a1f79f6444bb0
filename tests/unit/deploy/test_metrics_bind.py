"""A /metrics address that cannot be bound names the variable at fault: an
invalid METRICS_HOST was reported as METRICS_PORT."""

from __future__ import annotations

import socket

import pytest
from prometheus_client import CollectorRegistry

from novaos.errors import ConfigError
from novaos.supervisor import serve_metrics


def test_an_address_this_machine_does_not_have_names_metrics_host() -> None:
    # 192.0.2.0/24 is documentation-only (RFC 5737): never a local address.
    with pytest.raises(ConfigError, match=r"^invalid configuration: METRICS_HOST: cannot listen"):
        serve_metrics("192.0.2.1", 0, CollectorRegistry())


def test_a_port_in_use_names_metrics_port() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError, match=r"^invalid configuration: METRICS_PORT: cannot"):
            serve_metrics("127.0.0.1", port, CollectorRegistry())


def test_an_ipv6_address_in_brackets_is_served_as_grpc_host_takes_it() -> None:
    server = serve_metrics("[::1]", 0, CollectorRegistry())
    try:
        assert server.server_port
    finally:
        server.shutdown()
        server.server_close()
