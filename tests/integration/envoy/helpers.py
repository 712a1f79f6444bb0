"""Small HTTP helpers for the Envoy tests (real TLS, verified against the dev CA)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx

from tests.fixtures.envoy import EnvoySidecar


def client(sidecar: EnvoySidecar, *, http2: bool = False) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(sidecar.ca_file))
    return httpx.Client(base_url=sidecar.https_url, verify=ctx, http2=http2, timeout=20)


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
