"""gRPC status -> HTTP code with a JSON google.rpc.Status body, for unary and stream routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.envoy import EnvoySidecar, Upstream
from tests.integration.envoy.helpers import bearer, client, detail_types

REAL_CASES = [
    # method, path, body, token kind, http status, grpc code, detail types
    ("POST", "/api/v1/chat", {"message": "hi"}, None, 401, 16, ["ErrorInfo"]),
    ("POST", "/api/v1/chat/stream", {"message": "hi"}, None, 401, 16, ["ErrorInfo"]),
    ("POST", "/api/v1/chat", {"message": ""}, "user", 400, 3, ["ErrorInfo", "BadRequest"]),
    ("POST", "/api/v1/chat/stream", {"message": ""}, "user", 400, 3, ["ErrorInfo", "BadRequest"]),
    ("GET", "/api/v1/audit/events", None, "user", 403, 7, ["ErrorInfo"]),
    ("GET", "/api/v1/conversations/nope", None, "user", 404, 5, ["ErrorInfo"]),
]
# What main cannot produce yet (limits, breakers): the contract-shaped stub does.
STUB_CASES = [
    ("/api/v1/chat", "rate limit", 429, 8, ["ErrorInfo", "QuotaFailure", "RetryInfo"]),
    ("/api/v1/chat/stream", "rate limit", 429, 8, ["ErrorInfo", "QuotaFailure", "RetryInfo"]),
    ("/api/v1/chat", "circuit", 503, 14, ["ErrorInfo", "RetryInfo"]),
    ("/api/v1/chat/stream", "circuit", 503, 14, ["ErrorInfo", "RetryInfo"]),
]


def _assert_status_body(resp: httpx.Response, status: int, code: int, details: list[str]) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["code"] == code
    assert body["message"]
    assert detail_types(body) == details
    assert "grpc-status" not in resp.headers and "grpc-status-details-bin" not in resp.headers


@pytest.mark.parametrize("case", REAL_CASES, ids=lambda c: f"{c[0]} {c[1]} {c[4]}")
def test_gateway_errors_map_to_http_and_json_status(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, case: tuple[Any, ...]
) -> None:
    method, path, body, who, status, code, details = case
    headers = bearer(gateway_upstream.token) if who else {}
    with client(envoy_sidecar) as http:
        resp = http.request(method, path, json=body, headers=headers)
    _assert_status_body(resp, status, code, details)


@pytest.mark.parametrize(("path", "message", "status", "code", "details"), STUB_CASES)
def test_limit_and_circuit_errors_map_to_http_and_json_status(
    stub_sidecar: EnvoySidecar,
    stub_upstream: Upstream,
    path: str,
    message: str,
    status: int,
    code: int,
    details: list[str],
) -> None:
    with client(stub_sidecar) as http:
        resp = http.post(path, json={"message": message}, headers=bearer(stub_upstream.token))
    _assert_status_body(resp, status, code, details)


def test_rate_limit_carries_ratelimit_headers_and_retry_after(
    stub_sidecar: EnvoySidecar, stub_upstream: Upstream
) -> None:
    with client(stub_sidecar) as http:
        resp = http.post(
            "/api/v1/chat/stream",
            json={"message": "rate limit"},
            headers=bearer(stub_upstream.token),
        )
    assert resp.status_code == 429
    assert resp.headers["x-ratelimit-limit"] == "10"
    assert resp.headers["x-ratelimit-remaining"] == "0"
    assert resp.headers["x-ratelimit-reset"] == "7"
    # RetryInfo says 6.2 s; Retry-After is whole seconds, rounded up
    assert resp.headers["retry-after"] == "7"


def test_circuit_open_is_503_with_retry_after(
    stub_sidecar: EnvoySidecar, stub_upstream: Upstream
) -> None:
    with client(stub_sidecar) as http:
        resp = http.post(
            "/api/v1/chat", json={"message": "circuit"}, headers=bearer(stub_upstream.token)
        )
    assert (resp.status_code, resp.json()["message"]) == (503, "Circuit open")
    assert resp.headers["retry-after"] == "7"


def test_malformed_json_and_oversized_bodies_are_refused_as_json(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    headers = {**bearer(gateway_upstream.token), "content-type": "application/json"}
    with client(envoy_sidecar) as http:
        broken = http.post("/api/v1/chat", content=b'{"message":', headers=headers)
        huge = http.post("/api/v1/chat", json={"message": "a" * 300_000}, headers=headers)
    assert broken.status_code == 400 and broken.json()["code"] == 3
    assert huge.status_code == 413 and huge.json() == {"code": 3, "message": "Payload Too Large"}


def test_gateway_down_is_503_json_for_http_and_unavailable_for_grpc(tmp_path: Path) -> None:
    from tests.fixtures.common import free_port
    from tests.integration.envoy.grpc_helpers import live_over_tls

    dead = EnvoySidecar(tmp_path, {"ENVOY_UPSTREAM_PORT": str(free_port())})
    try:
        dead.start(expect_healthy=False)
        with client(dead) as http:
            resp = http.get("/ready")
        assert resp.status_code == 503
        assert resp.json() == {"code": 14, "message": "no healthy upstream"}
        assert live_over_tls(dead) == "StatusCode.UNAVAILABLE"
    finally:
        dead.stop()
