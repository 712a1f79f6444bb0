"""The pod's listeners, the sidecar's and (sharing its network) the gateway's, may
not share a port: they rendered and validated, then collided at bind time.

Checked where the sidecar's config is rendered, not whenever settings load: only
there are the ENVOY_* ports the sidecar's own (their defaults are what it binds).
A gateway's environment seldom names them (in Kubernetes they are in another
ConfigMap), so comparing its ports with their defaults refused gateways that run
beside no sidecar, or beside one with other ports.
"""

from __future__ import annotations

import ipaddress

from novaos.config import Settings

ADMIN_HOST = "127.0.0.1"  # never configurable: the admin API can stop the proxy

# What one bind takes: (family, address), "*" for every address of that family.
# A host name the address of which is unknown here is its own family: it meets
# only itself and a wildcard.
_Slot = tuple[str, str]
_ANY_V4: _Slot = ("4", "*")
_ANY_V6: _Slot = ("6", "*")


def port_collision(s: Settings) -> str | None:
    """``"ENVOY_ADMIN_PORT: the same port as ENVOY_HTTPS_PORT (8443)"`` for two of the
    pod's listeners on one non-zero port where their addresses overlap, or None.

    The gateway's (GRPC_PORT or ENVOY_UPSTREAM_PORT, METRICS_PORT) count when the
    sidecar reaches it on loopback, i.e. they share a network namespace (a pod,
    compose's service). Port 0 picks a free port, or turns the plain listener off."""
    binds = [("ENVOY_HTTPS_PORT", s.envoy_https_port, s.envoy_listen_host)]
    if not s.is_production:  # production renders no plain listener
        binds.append(("ENVOY_HTTP_PORT", s.envoy_http_port, s.envoy_listen_host))
    binds.append(("ENVOY_ADMIN_PORT", s.envoy_admin_port, ADMIN_HOST))
    if _is_loopback(s.envoy_upstream_host):
        # The gateway's port as the sidecar knows it (the cluster's port).
        if s.envoy_upstream_port:
            binds.insert(0, ("ENVOY_UPSTREAM_PORT", s.envoy_upstream_port, s.grpc_host))
        else:
            binds.insert(0, ("GRPC_PORT", s.grpc_port, s.grpc_host))
        binds.insert(1, ("METRICS_PORT", s.metrics_port, s.metrics_host))
    for i, (name, port, host) in enumerate(binds):
        for other, other_port, other_host in binds[:i]:
            if port and port == other_port and _overlap(host, other_host):
                return f"{name}: the same port as {other} ({port})"
    return None


def _slots(host: str) -> set[_Slot]:
    bare = host.removeprefix("[").removesuffix("]")
    if bare in ("", "::"):  # every address; :: takes IPv4 too (dual-stack, Linux's default)
        return {_ANY_V4, _ANY_V6}
    if bare.lower() == "localhost":  # gRPC binds both loopback addresses
        return {("4", "127.0.0.1"), ("6", "::1")}
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return {("name", bare.lower().rstrip("."))}
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return {_ANY_V4}  # 0.0.0.0 (:: was taken above)
    return {(str(address.version), str(address))}


def _overlap(host: str, other: str) -> bool:
    return any(_meet(a, b) for a in _slots(host) for b in _slots(other))


def _meet(a: _Slot, b: _Slot) -> bool:
    if a == b:
        return True
    if "name" in (a[0], b[0]):
        return "*" in (a[1], b[1])  # a name is some address: any wildcard takes it
    return a[0] == b[0] and "*" in (a[1], b[1])


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
