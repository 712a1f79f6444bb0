"""gRPC status -> HTTP code with a JSON google.rpc.Status body, for unary and stream routes."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.common import wait_until
from tests.fixtures.envoy import (
    ALLOWED_ORIGIN,
    FREE_RATE_LIMIT,
    EnvoySidecar,
    Upstream,
    run_sidecar,
    sidecar_for,
)
from tests.fixtures.fake_providers import FakeProviderServer, Reply
from tests.fixtures.gateway_thread import GatewayThread, fresh_token
from tests.fixtures.provider_wire import openai_error
from tests.integration.envoy.grpc_helpers import tls_channel
from tests.integration.envoy.helpers import bearer, client, detail_types, sse_events

REAL_CASES = [
    # method, path, body, token kind, http status, grpc code, detail types
    ("POST", "/api/v1/chat", {"message": "hi"}, None, 401, 16, ["ErrorInfo"]),
    ("POST", "/api/v1/chat/stream", {"message": "hi"}, None, 401, 16, ["ErrorInfo"]),
    ("POST", "/api/v1/chat", {"message": ""}, "user", 400, 3, ["ErrorInfo", "BadRequest"]),
    ("POST", "/api/v1/chat/stream", {"message": ""}, "user", 400, 3, ["ErrorInfo", "BadRequest"]),
    ("GET", "/api/v1/audit/events", None, "user", 403, 7, ["ErrorInfo"]),
    ("GET", "/api/v1/conversations/nope", None, "user", 404, 5, ["ErrorInfo"]),
]
LIMITED = ["ErrorInfo", "QuotaFailure", "RetryInfo"]
HEALTH_CHECKS = "cluster.novaos_grpc.health_check.attempt"


@contextmanager
def _failing_gateway(threshold: int) -> Iterator[GatewayThread]:
    """The real gateway whose only provider (OpenAI, on a loopback fake) answers 500;
    ``threshold`` failures open its circuit."""
    gateway = GatewayThread()
    upstream = gateway.run(FakeProviderServer().start())
    upstream.default = Reply(500, openai_error(500, "upstream down"))
    try:
        gateway.start(
            PREFERRED_PROVIDER="openai",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=upstream.url + "/v1",
            CIRCUIT_FAILURE_THRESHOLD=str(threshold),
        )
        yield gateway
    finally:
        gateway.run(upstream.close())
        gateway.stop()


@pytest.fixture(scope="module")
def failing_gateway() -> Iterator[GatewayThread]:
    with _failing_gateway(1) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def failing_sidecar(
    failing_gateway: GatewayThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnvoySidecar]:
    yield from sidecar_for(failing_gateway, tmp_path_factory.mktemp("envoy-failing"))


def _assert_status_body(resp: httpx.Response, status: int, code: int, details: list[str]) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["code"] == code
    assert body["message"]
    assert sorted(detail_types(body)) == sorted(details)
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
    if status == 401:  # RFC 6750: the scheme to use
        assert resp.headers["www-authenticate"] == 'Bearer realm="novaos"'
    else:
        assert "www-authenticate" not in resp.headers


def _exhaust(http: httpx.Client, path: str) -> httpx.Response:
    """A fresh free-tier user spends the per-minute budget; returns the call after it."""
    headers = bearer(fresh_token("free"))
    for _ in range(FREE_RATE_LIMIT):
        assert http.post("/api/v1/chat", json={"message": "hello"}, headers=headers).is_success
    return http.post(path, json={"message": "hello"}, headers=headers)


@pytest.mark.parametrize("path", ["/api/v1/chat", "/api/v1/chat/stream"])
def test_rate_limit_is_429_with_limit_headers_and_json_status(
    envoy_sidecar: EnvoySidecar, gateway_thread: GatewayThread, path: str
) -> None:
    with client(envoy_sidecar) as http:
        resp = _exhaust(http, path)
    _assert_status_body(resp, 429, 8, LIMITED)
    assert resp.headers["x-ratelimit-limit"] == str(FREE_RATE_LIMIT)
    assert resp.headers["x-ratelimit-remaining"] == "0"
    reset = int(resp.headers["x-ratelimit-reset"])
    assert 0 < reset <= 60
    assert resp.headers["x-ratelimit-remaining-requests"] == "0"
    assert resp.headers["x-ratelimit-reset-requests"] == f"{reset}s"
    assert int(resp.headers["x-ratelimit-remaining-tokens"]) > 0  # not the limit that refused
    body = resp.json()
    retry = next(d for d in body["details"] if d["@type"].endswith("RetryInfo"))
    # Retry-After is RetryInfo's delay in whole seconds, rounded up
    delay = float(retry["retry_delay"].rstrip("s"))
    assert resp.headers["retry-after"] == str(math.ceil(delay))
    quota = next(d for d in body["details"] if d["@type"].endswith("QuotaFailure"))
    assert "requests per minute" in quota["violations"][0]["description"]
    # Which process refused it, as on an answer (it came only with answers).
    assert resp.headers["x-request-id"] and resp.headers["x-novaos-worker"] == "0"


def _open_circuit(http: httpx.Client, gateway: GatewayThread) -> dict[str, str]:
    """One failed call opens the only circuit (a no-op when it is already open)."""
    headers = bearer(gateway.token)
    http.post("/api/v1/chat", json={"message": "hello"}, headers=headers)
    return headers


def test_open_circuit_is_503_circuit_open_with_retry_after(
    failing_sidecar: EnvoySidecar, failing_gateway: GatewayThread
) -> None:
    with client(failing_sidecar) as http:
        headers = _open_circuit(http, failing_gateway)
        resp = http.post("/api/v1/chat", json={"message": "hello"}, headers=headers)
    _assert_status_body(resp, 503, 14, ["ErrorInfo", "RetryInfo"])
    assert resp.json()["message"] == "Circuit open"
    assert 0 < int(resp.headers["retry-after"]) <= 30


def _retry_delay_s(resp: httpx.Response) -> float:
    retry = next(d for d in resp.json()["details"] if d["@type"].endswith("RetryInfo"))
    return float(retry["retry_delay"].rstrip("s"))


def test_retry_after_agrees_with_retry_info_while_the_circuit_opens(
    tmp_path: Path,
) -> None:
    """Two failures open the circuit. The first call may be retried at once (0 s
    both in the body and the header, which said 1); the second, which opens the
    circuit, names the reset timeout (it said 0 s, so clients came straight back)."""
    with _failing_gateway(2) as gateway:
        upstream = Upstream("127.0.0.1", gateway.port, gateway.token)
        for sidecar in run_sidecar(upstream, tmp_path):
            with client(sidecar) as http:
                calls = [
                    http.post(
                        "/api/v1/chat", json={"message": "hello"}, headers=bearer(gateway.token)
                    )
                    for _ in range(3)
                ]
    first, opening, refused = calls
    for resp in calls:
        _assert_status_body(resp, 503, 14, ["ErrorInfo", "RetryInfo"])
        assert resp.headers["retry-after"] == str(math.ceil(_retry_delay_s(resp)))
    assert first.json()["message"].startswith("no provider could answer")
    assert _retry_delay_s(first) == 0
    assert opening.json()["message"].startswith("no provider could answer")
    assert 29 < _retry_delay_s(opening) <= 30, "the reset timeout (30 s by default)"
    assert refused.json()["message"] == "Circuit open"


def _readiness(gateway: GatewayThread) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    return int(reply.status)


def test_open_circuit_keeps_the_gateway_in_envoy_rotation(
    failing_sidecar: EnvoySidecar, failing_gateway: GatewayThread
) -> None:
    """Every circuit open makes the gateway not ready, but Envoy's health check
    follows liveness, so clients keep "Circuit open" + Retry-After and operators
    keep the circuits view instead of "no healthy upstream"."""
    with client(failing_sidecar) as http:
        _open_circuit(http, failing_gateway)
        wait_until(
            lambda: _readiness(failing_gateway) == health_pb2.HealthCheckResponse.NOT_SERVING,
            timeout_s=10,
            what="gateway not ready",
        )
        checks = failing_sidecar.counter(HEALTH_CHECKS)
        # two checks (the unhealthy threshold) after readiness dropped
        wait_until(
            lambda: failing_sidecar.counter(HEALTH_CHECKS) >= checks + 2,
            timeout_s=10,
            what="two more Envoy health checks",
        )
        chat = http.post(
            "/api/v1/chat", json={"message": "hello"}, headers=_open_circuit(http, failing_gateway)
        )
        circuits = http.get("/api/v1/health/circuits")
    assert (chat.status_code, chat.json()["message"]) == (503, "Circuit open")
    assert circuits.status_code == 200
    assert circuits.json()["circuits"][0]["state"] == "CIRCUIT_STATE_OPEN"


def test_not_ready_is_a_503_json_status_naming_every_check(
    failing_sidecar: EnvoySidecar, failing_gateway: GatewayThread
) -> None:
    with client(failing_sidecar) as http:
        _open_circuit(http, failing_gateway)
        wait_until(lambda: http.get("/ready").status_code == 503, timeout_s=10, what="/ready 503")
        resp = http.get("/ready")
        head = http.head("/ready")  # what a load balancer probes with
    assert head.status_code == 503
    assert head.headers["content-type"] == "application/json"
    # It was {"status":"","checks":{}}: the reply's empty body went out before the status.
    _assert_status_body(resp, 503, 14, ["ErrorInfo"])
    body = resp.json()
    assert "providers=all_circuits_open" in body["message"]
    info = body["details"][0]
    assert info["reason"] == "NOT_READY"
    assert info["metadata"]["providers"] == "all_circuits_open"
    assert {"storage", "audit"} <= info["metadata"].keys()


def test_open_circuit_on_a_started_stream_ends_with_an_in_band_failed_event(
    failing_sidecar: EnvoySidecar, failing_gateway: GatewayThread
) -> None:
    # started and the gate events precede the provider call, so the HTTP status is
    # already 200; the terminal event is what a browser can read.
    with client(failing_sidecar) as http:
        headers = _open_circuit(http, failing_gateway)
        with http.stream(
            "POST", "/api/v1/chat/stream", json={"message": "hello"}, headers=headers
        ) as resp:
            assert resp.status_code == 200
            events = list(sse_events(resp))
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "started" and kinds[-1] == "completed" and "delta" not in kinds
    done = events[-1]["completed"]
    assert (done["outcome"], done["detail"]) == ("OUTCOME_FAILED", "Circuit open")


def test_malformed_json_and_oversized_bodies_are_refused_as_json(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    headers = {**bearer(gateway_upstream.token), "content-type": "application/json"}
    with client(envoy_sidecar) as http:
        broken = http.post("/api/v1/chat", content=b'{"message":', headers=headers)
        huge = http.post("/api/v1/chat", json={"message": "a" * 300_000}, headers=headers)
    assert broken.status_code == 400 and broken.json()["code"] == 3
    assert huge.status_code == 413 and huge.json() == {"code": 3, "message": "Payload Too Large"}


def test_a_body_over_the_limit_is_readable_by_a_page_and_a_grpc_web_client(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The 413 passes back through CORS (a page can read it) and grpc-web (a
    # status, not a bare HTTP error).
    origin = {"origin": ALLOWED_ORIGIN, **bearer(gateway_upstream.token)}
    grpc_web = {**origin, "content-type": "application/grpc-web+proto", "x-grpc-web": "1"}
    frame = b"\x00" + (300_000).to_bytes(4, "big") + b"\x0a" + b"a" * 299_999
    with client(envoy_sidecar) as http:
        page = http.post("/api/v1/chat", json={"message": "a" * 300_000}, headers=origin)
        web = http.post("/novaos.v1.ChatService/Chat", content=frame, headers=grpc_web)
    assert page.status_code == 413
    assert page.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    assert web.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    assert web.headers.get("grpc-status") not in (None, "0"), (web.status_code, web.headers)


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


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"message":"\\ud800"}', "Missing low surrogate."),
        (b'{"message":"\\udc00x"}', "Invalid unicode code point."),
        (b'{"message":"\xff\xfe"}', "Encountered non UTF-8 code points."),
    ],
)
def test_json_the_transcoder_cannot_parse_is_its_own_400(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, body: bytes, message: str
) -> None:
    # As docs/envoy.md lists it: the parser's message, naming no field, and no
    # BadRequest detail (the gateway never sees the call).
    headers = {**bearer(gateway_upstream.token), "content-type": "application/json"}
    with client(envoy_sidecar) as http:
        resp = http.post("/api/v1/chat", content=body, headers=headers)
    assert resp.status_code == 400, resp.text
    reply = resp.json()
    assert reply["code"] == 3 and reply["message"].startswith(message), reply
    assert "details" not in reply or not reply["details"], reply


def test_a_path_with_an_encoded_nul_is_envoys_400_with_an_empty_message(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    with client(envoy_sidecar) as http:
        resp = http.get("/api/v1/conversations/a%00b", headers=bearer(gateway_upstream.token))
    assert resp.status_code == 400
    assert resp.json() == {"code": 3, "message": ""}  # as docs/envoy.md lists it


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/audit/events?_=12345", "_"),  # a cache-buster
        ("/api/v1/audit/events?PAGE_SIZE=1", "PAGE_SIZE"),  # a typo'd filter
        ("/api/v1/conversations?x=1", "x"),
    ],
)
def test_an_unknown_query_parameter_is_a_400_naming_it(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, path: str, field: str
) -> None:
    # It was not transcoded at all: the call fell through to the catch-all route, a
    # JSON 404 "Not Found".
    headers = {**bearer(gateway_upstream.admin_token), "origin": ALLOWED_ORIGIN}
    with client(envoy_sidecar) as http:
        resp = http.get(path, headers=headers)
        good = http.get(path.split("?", maxsplit=1)[0] + "?page_size=1", headers=headers)
    assert good.status_code == 200, good.text
    assert resp.status_code == 400, resp.text
    assert f'"{field}"' in resp.json()["message"]
    # A page on an allowed origin can read it, as it reads every other error.
    assert resp.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    assert "x-request-id" in resp.headers["access-control-expose-headers"]


def test_replies_envoy_sends_before_the_cors_filter_carry_cors_for_allowed_origins_only(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The transcoder refuses an unknown query parameter before the CORS filter runs,
    # and the catch-all 404 is a route the filter does not act on: both went out
    # without CORS headers, an opaque failure to a page.
    admin = bearer(gateway_upstream.admin_token)
    replies = {}
    with client(envoy_sidecar) as http:
        for origin in (ALLOWED_ORIGIN, "https://evil.example.com", None):
            headers = {**admin, "origin": origin} if origin else admin
            replies[origin] = (
                http.get("/api/v1/audit/events?_=1", headers=headers),
                http.get("/api/v1/nope", headers=headers),
            )
    for origin, (unknown_param, unknown_path) in replies.items():
        assert (unknown_param.status_code, unknown_path.status_code) == (400, 404)
        for resp in (unknown_param, unknown_path):
            allow = resp.headers.get("access-control-allow-origin")
            assert allow == (ALLOWED_ORIGIN if origin == ALLOWED_ORIGIN else None), (
                origin,
                resp.request.url,
            )
            if origin != ALLOWED_ORIGIN:
                assert "access-control-expose-headers" not in resp.headers


def test_the_access_log_carries_the_grpc_status_the_caller_got(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The transcoder drops grpc-status from a JSON error, and %GRPC_STATUS% guessed
    # from the HTTP code instead: NOT_FOUND was logged as Unimplemented,
    # RESOURCE_EXHAUSTED as Unavailable, INVALID_ARGUMENT as Internal.
    run = uuid.uuid4().hex[:8]
    user, free = bearer(gateway_upstream.token), bearer(fresh_token("free"))
    calls = {  # request id -> (method, path, body, headers, wanted code)
        f"ok-{run}": ("POST", "/api/v1/chat", {"message": "hi"}, user, 0),
        f"notfound-{run}": ("GET", "/api/v1/conversations/nope", None, user, 5),
        f"invalid-{run}": ("POST", "/api/v1/chat", {"message": ""}, user, 3),
        f"unauth-{run}": ("POST", "/api/v1/chat/stream", {"message": "hi"}, {}, 16),
        f"nopath-{run}": ("GET", "/api/v1/nope", None, user, 5),  # Envoy's own 404
        **{
            f"free{i}-{run}": ("POST", "/api/v1/chat", {"message": "hi"}, free, 0)
            for i in range(FREE_RATE_LIMIT)
        },
        f"limited-{run}": ("POST", "/api/v1/chat", {"message": "hi"}, free, 8),
    }
    with client(envoy_sidecar) as http:
        for rid, (method, path, body, headers, code) in calls.items():
            resp = http.request(method, path, json=body, headers={**headers, "x-request-id": rid})
            assert resp.json().get("code", 0) == code, (rid, resp.text)
    # native gRPC keeps its grpc-status: logged as before
    calls[f"native-{run}"] = ("", "", None, {}, 3)
    with tls_channel(envoy_sidecar) as channel, pytest.raises(grpc.RpcError):
        chat_pb2_grpc.ChatServiceStub(channel).Chat(
            chat_pb2.ChatRequest(message=""),
            metadata=(*user.items(), ("x-request-id", f"native-{run}")),
            timeout=10,
        )

    def logged() -> dict[str, str]:
        return {e["requestId"]: e["grpcStatus"] for e in envoy_sidecar.access_log()}

    wait_until(lambda: set(calls) <= set(logged()), timeout_s=15, what="access log entries")
    statuses = logged()
    assert {rid: statuses[rid] for rid in calls} == {
        rid: str(call[-1]) for rid, call in calls.items()
    }


@pytest.mark.parametrize("second", ["Bearer not-a-token", "first"])
def test_two_authorization_headers_are_refused_as_malformed_like_direct_grpc(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, second: str
) -> None:
    # Envoy joins the two into one value ("Bearer a,Bearer b"); the gateway used to
    # read that as one broken token (TOKEN_INVALID "Invalid payload padding").
    valid = f"Bearer {gateway_upstream.token}"
    values = [valid, valid] if second == "first" else [valid, second]
    headers = [("authorization", v) for v in values]
    with client(envoy_sidecar) as http:
        resp = http.post("/api/v1/chat", json={"message": "hello"}, headers=headers)
    assert resp.status_code == 401
    body = resp.json()
    assert body["message"] == "more than one authorization header"
    assert body["details"][0]["reason"] == "TOKEN_MALFORMED"
