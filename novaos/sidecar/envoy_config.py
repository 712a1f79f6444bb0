"""Envoy bootstrap: listeners, the upstream gRPC cluster and the admin interface.

Shape: an HTTPS listener (TLS 1.2-1.3, the guide's ciphers, ALPN h2 + http/1.1)
and, outside production, a plain HTTP one for local development; both run the
same HTTP filter chain (``envoy_http``) in front of one gRPC/h2 cluster.

The certificate reaches the HTTPS listener through file-based SDS (a second
file, ``tls_secret_resources``) rather than as an inline file name: Envoy reads
an inline file once, at start, so a renewed Kubernetes Secret (the kubelet swaps
the volume's ``..data`` symlink) would be served only after a restart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from novaos.config import Settings
from novaos.errors import ConfigError
from novaos.sidecar.envoy_http import http_connection_manager
from novaos.sidecar.envoy_overload import open_files_limit, overload_manager
from novaos.sidecar.pod_ports import ADMIN_HOST, port_collision
from novaos.sidecar.web_assets import WebAsset

Json = dict[str, Any]

CLUSTER = "novaos_grpc"
CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256")
_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
_UPSTREAM_HTTP = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
_SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
TLS_SECRET = "novaos_tls"
# SDS (even from a file) wants a node identity; nothing else reads it.
NODE = {"id": "novaos-sidecar", "cluster": "novaos"}


@dataclass(frozen=True, slots=True)
class RenderInputs:
    """What the config needs besides Settings."""

    descriptor: Path  # generated/novaos.pb
    assets: list[WebAsset]
    tls_secret: Path  # where the file from tls_secret_resources() is written
    # The hard RLIMIT_NOFILE Envoy runs with (it raises its soft limit to it).
    open_files: int = field(default_factory=open_files_limit)


def build_envoy_config(settings: Settings, inputs: RenderInputs) -> Json:
    if collision := port_collision(settings):
        raise ConfigError(f"invalid configuration: {collision}")
    listeners = [_https_listener(settings, inputs)]
    if settings.envoy_http_port and not settings.is_production:
        listeners.append(_http_listener(settings, inputs))
    return {
        "node": NODE,
        "admin": {
            "address": _address(ADMIN_HOST, settings.envoy_admin_port),
            "access_log": [],
        },
        "static_resources": {"listeners": listeners, "clusters": [_grpc_cluster(settings)]},
        "overload_manager": overload_manager(settings, inputs.open_files),
    }


def _address(host: str, port: int) -> Json:
    return {"socket_address": {"address": host, "port_value": port}}


def _tls_files(settings: Settings) -> tuple[str, str]:
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if cert is None or key is None:
        raise ConfigError("invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE: both required")
    # Absolute but not resolved: a Secret volume's tls.crt is a symlink through
    # ..data, and resolving it would pin the certificate the kubelet later replaces.
    return os.path.abspath(cert), os.path.abspath(key)


def tls_secret_resources(settings: Settings) -> Json:
    """The SDS file: the certificate and key by name, re-read when they change.

    Envoy watches a file's directory for a rename onto that file's own name, which
    a Secret update never makes (it renames ``..data``); ``watched_directory``
    re-reads both files on any rename in the directory, as Envoy documents for
    Kubernetes. Files in two directories keep the per-file watches.
    """
    cert, key = _tls_files(settings)
    certificate: Json = {"certificate_chain": {"filename": cert}, "private_key": {"filename": key}}
    if os.path.dirname(cert) == os.path.dirname(key):
        certificate["watched_directory"] = {"path": os.path.dirname(cert)}
    return {"resources": [{"@type": _SECRET, "name": TLS_SECRET, "tls_certificate": certificate}]}


def _tls_context(settings: Settings, tls_secret: Path) -> Json:
    _tls_files(settings)  # both set, or the render stops here
    sds = {"path_config_source": {"path": os.path.abspath(tls_secret)}}
    return {
        "@type": _TLS,
        # The guide: no session tickets (forward secrecy across ticket-key reuse).
        "disable_stateless_session_resumption": True,
        "common_tls_context": {
            "tls_params": {
                "tls_minimum_protocol_version": "TLSv1_2",
                "tls_maximum_protocol_version": "TLSv1_3",
                # TLS 1.3 suites are fixed by BoringSSL; this list governs 1.2.
                "cipher_suites": list(CIPHERS),
            },
            "alpn_protocols": ["h2", "http/1.1"],
            "tls_certificate_sds_secret_configs": [
                {"name": TLS_SECRET, "sds_config": {**sds, "resource_api_version": "V3"}}
            ],
        },
    }


def _https_listener(settings: Settings, inputs: RenderInputs) -> Json:
    hcm = http_connection_manager(settings, inputs.descriptor, inputs.assets, tls=True)
    return {
        "name": "https",
        "address": _address(settings.envoy_listen_host, settings.envoy_https_port),
        "per_connection_buffer_limit_bytes": 32768,
        "filter_chains": [
            {
                "transport_socket": {
                    "name": "envoy.transport_sockets.tls",
                    "typed_config": _tls_context(settings, inputs.tls_secret),
                },
                "filters": [hcm],
            }
        ],
    }


def _http_listener(settings: Settings, inputs: RenderInputs) -> Json:
    hcm = http_connection_manager(settings, inputs.descriptor, inputs.assets, tls=False)
    return {
        "name": "http",
        "address": _address(settings.envoy_listen_host, settings.envoy_http_port),
        "per_connection_buffer_limit_bytes": 32768,
        "filter_chains": [{"filters": [hcm]}],
    }


# A new upstream connection per this many requests: cheap on loopback (~1 %
# of a request's cost), and enough new connections for the kernel to spread.
UPSTREAM_REQUESTS_PER_CONNECTION = 50


def _grpc_cluster(settings: Settings) -> Json:
    port = settings.envoy_upstream_port or settings.grpc_port
    endpoint = {"endpoint": {"address": _address(settings.envoy_upstream_host, port)}}
    return {
        "name": CLUSTER,
        "type": "STRICT_DNS",
        "dns_lookup_family": "V4_PREFERRED",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": {"cluster_name": CLUSTER, "endpoints": [{"lb_endpoints": [endpoint]}]},
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _UPSTREAM_HTTP,
                # With WORKERS>1 the kernel gives each connection to one worker
                # (SO_REUSEPORT), and one long-lived HTTP/2 connection per Envoy
                # thread sent every request to the same worker. Connections are
                # renewed every so many requests, so over time both take a share.
                "common_http_protocol_options": {
                    "max_requests_per_connection": UPSTREAM_REQUESTS_PER_CONNECTION
                },
                "explicit_http_config": {
                    "http2_protocol_options": {
                        "connection_keepalive": {"interval": "30s", "timeout": "5s"}
                    }
                },
            }
        },
        # 0: when the gateway is unhealthy, fail fast with 503 instead of "panic
        # routing" to it anyway (Envoy's default threshold is 50 %).
        "common_lb_config": {"healthy_panic_threshold": {"value": 0.0}},
        "health_checks": [
            {
                "timeout": "1s",
                "interval": "2s",
                # Default 60 s would leave an idle sidecar blind to a dead gateway.
                "no_traffic_interval": "2s",
                "unhealthy_threshold": 2,
                "healthy_threshold": 1,
                # The gateway's liveness name: NOT_SERVING only when it drains. Not
                # readiness (""), which also drops when every provider circuit is
                # open: ejecting the only gateway then would turn "503 Circuit open"
                # with Retry-After into "no healthy upstream" on every route,
                # /api/v1/health/circuits included.
                "grpc_health_check": {"service_name": "novaos.v1.HealthService"},
            }
        ],
    }
