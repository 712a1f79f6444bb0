"""gRPC status -> HTTP code with a JSON google.rpc.Status body, for unary and stream routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.envoy import EnvoySidecar, Upstream
from tests.integration.envoy.helpers import bearer, client, detail_types

CASES = [
    # message, auth, http status, grpc code, detail types expected
    ("hello", False, 401, 16, ["ErrorInfo"]),
    ("forbidden", True, 403, 7, ["ErrorInfo"]),
    ("", True, 400, 3, ["ErrorInfo", "BadRequest"]),
    ("rate limit", True, 429, 8, ["ErrorInfo", "QuotaFailure", "RetryInfo"]),
    ("circuit", True, 503, 14, ["ErrorInfo", "RetryInfo"]),
]


@pytest.mark.parametrize("path", ["/api/v1/chat", "/api/v1/chat/stream"])
@pytest.mark.parametrize(("message", "auth", "status", "code", "details"), CASES)
def test_grpc_errors_map_to_http_and_json_status(
    envoy_sidecar: EnvoySidecar,
    gateway_upstream: Upstream,
    path: str,
    message: str,
    auth: bool,
    status: int,
    code: int,
    details: list[str],
) -> None:
    headers = bearer(gateway_upstream.token) if auth else {}
    with client(envoy_sidecar) as http:
        resp = http.post(path, json={"message": message}, headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["code"] == code
    assert body["message"]
    assert detail_types(body) == details
    assert "grpc-status" not in resp.headers and "grpc-status-details-bin" not in resp.headers


def test_rate_limit_carries_ratelimit_headers_and_retry_after(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    with client(envoy_sidecar) as http:
        resp = http.post(
            "/api/v1/chat/stream",
            json={"message": "rate limit"},
            headers=bearer(gateway_upstream.token),
        )
    assert resp.status_code == 429
    assert resp.headers["x-ratelimit-limit"] == "10"
    assert resp.headers["x-ratelimit-remaining"] == "0"
    assert resp.headers["x-ratelimit-reset"] == "7"
    # RetryInfo says 6.2 s; Retry-After is whole seconds, rounded up
    assert resp.headers["retry-after"] == "7"


def test_circuit_open_is_503_with_retry_after(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    with client(envoy_sidecar) as http:
        resp = http.post(
            "/api/v1/chat", json={"message": "circuit"}, headers=bearer(gateway_upstream.token)
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
