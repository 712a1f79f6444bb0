"""The grpc.aio server: servicers, interceptor, health, reflection, drain."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2
from grpc_health.v1 import health_pb2_grpc as grpc_health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from generated.novaos.v1 import audit_pb2_grpc, chat_pb2, chat_pb2_grpc, health_pb2_grpc
from novaos.errors import ConfigError
from novaos.observability.metrics import Metrics
from novaos.transport.auth import JwtAuthenticator
from novaos.transport.grpc_health import HealthCheckServicer
from novaos.transport.interceptors import NovaInterceptor
from novaos.wire_limits import GRPC_MAX_MESSAGE_BYTES, GRPC_MAX_METADATA_BYTES

SERVICE_NAMES = tuple(
    chat_pb2.DESCRIPTOR.pool.FindServiceByName(f"novaos.v1.{name}").full_name
    for name in ("ChatService", "AuditService", "HealthService")
)
LIVENESS_SERVICE = "novaos.v1.HealthService"
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Servicers:
    chat: chat_pb2_grpc.ChatServiceServicer
    audit: audit_pb2_grpc.AuditServiceServicer
    health: health_pb2_grpc.HealthServiceServicer


class GrpcHealth:
    """grpc.health.v1 statuses for "" and each service."""

    def __init__(self) -> None:
        self.servicer = HealthCheckServicer()

    async def set_serving(self, serving: bool) -> None:
        """Readiness. The HealthService name stays SERVING until drain: it is the
        liveness probe's target, and an outage upstream must not restart pods."""
        status = _SERVING if serving else _NOT_SERVING
        for name in ("", *SERVICE_NAMES):
            live_only = name == LIVENESS_SERVICE and not serving
            self.servicer.set(name, _SERVING if live_only else status)

    async def drain(self) -> None:
        """NOT_SERVING for good; open Watch streams send it and end (status OK)."""
        self.servicer.enter_graceful_shutdown()


def create_server(
    servicers: Servicers,
    auth: JwtAuthenticator,
    metrics: Metrics,
    grpc_health: GrpcHealth,
    *,
    address: str,
    trust_proxy: bool = False,
    share_port: bool = False,
    worker: int = 0,
) -> tuple[grpc.aio.Server, int]:
    """Build the server and bind ``address`` ("host:0" picks a free port).

    ``share_port``: SO_REUSEPORT, for the supervisor's workers only; a lone
    server must not quietly share its port with another one started by mistake.
    Raises ``ConfigError`` when the address cannot be bound."""
    server = grpc.aio.server(
        interceptors=[NovaInterceptor(auth, metrics, trust_proxy=trust_proxy, worker=worker)],
        options=[
            ("grpc.so_reuseport", 1 if share_port else 0),
            ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
            # What the sidecar accepts (max_request_headers_kb), never a soft lottery.
            ("grpc.max_metadata_size", GRPC_MAX_METADATA_BYTES),
            ("grpc.absolute_max_metadata_size", GRPC_MAX_METADATA_BYTES),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.http2.max_pings_without_data", 0),
        ],
    )
    chat_pb2_grpc.add_ChatServiceServicer_to_server(servicers.chat, server)
    audit_pb2_grpc.add_AuditServiceServicer_to_server(servicers.audit, server)
    health_pb2_grpc.add_HealthServiceServicer_to_server(servicers.health, server)
    grpc_health_pb2_grpc.add_HealthServicer_to_server(grpc_health.servicer, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    taken = None if share_port else _bind_error(address)
    if taken is not None:  # found before grpc's C core logs a line of its own about it
        raise ConfigError(
            f"invalid configuration: GRPC_HOST/GRPC_PORT: cannot listen on {address} "
            f"({taken.strerror})"
        )
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpc's "Failed to bind": in use, or not an address here
        raise ConfigError(
            f"invalid configuration: GRPC_HOST/GRPC_PORT: cannot listen on {address} "
            "(in use, or not an address of this host)"
        ) from exc
    return server, port


def grpc_address(host: str, port: int) -> str:
    """``host:port`` as gRPC takes it: an IPv6 literal in brackets ("[::1]:50051")."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _bind_error(address: str) -> OSError | None:
    """Bind ``host:port`` the way grpc will (SO_REUSEADDR, no SO_REUSEPORT) and let
    go: the error if it is taken or not ours. None for port 0, or a host that does
    not resolve (left to grpc)."""
    host, _, port = address.rpartition(":")
    if not port.isdigit() or int(port) == 0:
        return None
    try:
        family, kind, proto, _, where = socket.getaddrinfo(
            host.strip("[]") or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError:
        return None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(where)
        except OSError as exc:
            return exc
    return None
