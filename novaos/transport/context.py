"""Per-call facts the interceptor establishes for servicers (transport only).

Below transport, these travel as an explicit ``RequestContext``.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import re
import time
import urllib.parse
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc

from novaos.domain import Principal, RequestContext

Ctx = grpc.aio.ServicerContext[Any, Any]

# \Z, not $: "id\n" is no id (the sidecar's Lua check agrees: envoy_http.py).
_REQUEST_ID_OK = re.compile(r"\A[A-Za-z0-9_.:-]{1,64}\Z")


@dataclass(frozen=True)
class CallInfo:
    request_id: str
    principal: Principal | None
    client_ip: str
    method: str


_CURRENT: contextvars.ContextVar[CallInfo] = contextvars.ContextVar("novaos_call")


def set_current(info: CallInfo) -> contextvars.Token[CallInfo]:
    return _CURRENT.set(info)


def reset_current(token: contextvars.Token[CallInfo]) -> None:
    # A token set in another context: a stream generator gRPC dropped (the client
    # went away) is closed by asyncio's finalizer in a task of its own. The call's
    # context went with its task; there is nothing to restore. Raising here
    # replaced the GeneratorExit, logged an "unexpected error" and tried to abort
    # a call that was already gone.
    with contextlib.suppress(ValueError):
        _CURRENT.reset(token)


def current() -> CallInfo:
    return _CURRENT.get()


def request_id_from(metadata: Iterable[tuple[str, str | bytes]]) -> str:
    """The caller's own ``x-request-id`` (the call's metadata, every entry), or
    a generated one. Two are no id: through the sidecar they arrive joined
    ("one,two"), which the pattern refuses, so a direct call must not keep
    either (the last one won, a dict of the metadata)."""
    given = [v for k, v in metadata if k == "x-request-id"]
    if len(given) == 1 and isinstance(given[0], str) and _REQUEST_ID_OK.match(given[0]):
        return given[0]
    return f"req_{uuid.uuid4().hex}"


def forwarded_client(forwarded: str, *, behind_balancer: bool = True) -> str:
    """The client address in an ``X-Forwarded-For`` that came through the sidecar.

    Envoy appends the address it was called from. With TRUST_PROXY
    (``behind_balancer``; Envoy has ``xff_num_trusted_hops: 1``) that is the load
    balancer, and the client is the entry the balancer appended before it; without,
    it is the client's own. Entries left of those are whatever the client sent, so
    never trusted. One entry only behind a balancer: it added nothing, and that
    entry is the closest address known."""
    entries = [e.strip() for e in forwarded.split(",") if e.strip()]
    if not entries:
        return ""
    return entries[-2] if behind_balancer and len(entries) >= 2 else entries[-1]


def client_address(peer: str, forwarded: str, *, behind_balancer: bool) -> str:
    """Whom an anonymous call is limited and audited as.

    A loopback peer is the sidecar (it shares the pod's network; the gateway's
    only loopback caller besides a process inside the pod): the client is the
    address Envoy put in ``X-Forwarded-For``, or every caller through Envoy would
    be one ``ip:127.0.0.1``. Any other peer called the gateway directly; what it
    says in the header is its own claim, and its address is the one to use."""
    address = peer_ip(peer)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # a unix socket path, or a peer gRPC could not name
        return address
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    through_sidecar = (mapped or ip).is_loopback  # [::ffff:127.0.0.1] on a dual-stack listener
    if not through_sidecar:
        return address
    return forwarded_client(forwarded, behind_balancer=behind_balancer) or address


def peer_ip(peer: str) -> str:
    """'ipv4:127.0.0.1:5000' -> '127.0.0.1'; 'ipv6:%5B::1%5D:5000' -> '::1'.

    gRPC gives the peer as a URI, its IPv6 brackets percent-encoded; read raw, every
    IPv6 caller was an address that named its port, a new one per connection."""
    kind, _, rest = urllib.parse.unquote(peer).partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1 : rest.find("]")]
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return rest or peer


def request_context(context: Ctx) -> RequestContext:
    info = current()
    if info.principal is None:
        raise RuntimeError("no principal: the auth interceptor did not run")
    remaining = context.time_remaining()
    deadline = time.monotonic() + remaining if remaining is not None else None
    return RequestContext(info.request_id, info.principal, info.client_ip, deadline)
