"""Small HTTP helpers for the Envoy tests (real TLS, verified against the dev CA)."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import httpx

from tests.fixtures.envoy import EnvoySidecar


def client(sidecar: EnvoySidecar, *, http2: bool = False) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(sidecar.ca_file))
    return httpx.Client(base_url=sidecar.https_url, verify=ctx, http2=http2, timeout=20)


def raw_https(sidecar: EnvoySidecar, request: bytes) -> bytes:
    """Send raw HTTP/1.1 bytes over TLS; everything Envoy writes until it closes.

    For what an HTTP client hides: bytes after a HEAD reply's headers, a request
    no client library would send. The request must end with ``Connection: close``
    (or be one Envoy refuses) so that Envoy closes the connection.
    """
    ctx = ssl.create_default_context(cafile=str(sidecar.ca_file))
    ctx.set_alpn_protocols(["http/1.1"])
    chunks = []
    with (
        socket.create_connection(("127.0.0.1", sidecar.https_port), timeout=20) as sock,
        ctx.wrap_socket(sock, server_hostname="localhost") as tls,
    ):
        tls.sendall(request)
        while chunk := tls.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Parse `data: {...}` events as they arrive (one JSON object per event)."""
    data: list[str] = []
    for line in response.iter_lines():
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            yield json.loads("\n".join(data))
            data = []
    if data:
        yield json.loads("\n".join(data))


def detail_types(body: dict[str, Any]) -> list[str]:
    return [d["@type"].rsplit(".", 1)[-1] for d in body.get("details", [])]
