"""Security headers, CORS and TLS versions, checked exactly."""

from __future__ import annotations

import json
import socket
import ssl
import warnings
from pathlib import Path

import httpx
import pytest

from tests.fixtures.envoy import ALLOWED_ORIGIN, EnvoySidecar, Upstream, run_sidecar
from tests.integration.envoy.helpers import bearer, client, raw_https

EXPECTED = {
    "strict-transport-security": "max-age=63072000; includeSubDomains; preload",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "x-xss-protection": "1; mode=block",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "strict-origin-when-cross-origin",
}


@pytest.mark.parametrize("path", ["/health", "/api/v1/health", "/metrics", "/api/v1/chat"])
def test_security_headers_on_every_api_response(envoy_sidecar: EnvoySidecar, path: str) -> None:
    with client(envoy_sidecar) as http:
        resp = http.post(path, json={}) if path == "/api/v1/chat" else http.get(path)
    assert {k: resp.headers.get(k) for k in EXPECTED} == EXPECTED
    assert resp.headers["server"] == "novaos"
    assert not any(k.startswith("x-envoy") for k in resp.headers)


def _head_of(wire: bytes) -> tuple[int, dict[str, str]]:
    """Status and headers of the first reply in raw HTTP/1.1 bytes."""
    head = wire.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    fields = (line.partition(":") for line in head[1:])
    return int(head[0].split()[1]), {k.strip().lower(): v.strip() for k, _, v in fields}


# Replies Envoy's HTTP connection manager makes itself, some before any filter or
# route has seen the request (codec errors), with the status each must have.
ENVOY_OWN_REPLIES = [
    ("a malformed header line", b"GET /health HTTP/1.1\r\nhost: x\r\nBad Header: 1\r\n\r\n", 400),
    ("a garbage request line", b"GARBAGE\r\n\r\n", 400),
    ("a header with an underscore", b"GET /health HTTP/1.1\r\nhost: x\r\nx_a: 1\r\n\r\n", 400),
    ("HTTP/1.0", b"GET /health HTTP/1.0\r\n\r\n", 426),
    (
        "headers too large",
        b"GET /health HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 70_000 + b"\r\n\r\n",
        431,
    ),
    ("an unknown path", b"GET /nope HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n", 404),
]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [c[1:] for c in ENVOY_OWN_REPLIES],
    ids=[c[0] for c in ENVOY_OWN_REPLIES],
)
def test_envoys_own_replies_carry_hsts_and_the_security_headers(
    envoy_sidecar: EnvoySidecar, request_bytes: bytes, status: int
) -> None:
    # HSTS on some HTTPS replies and not others would leave a browser that only
    # ever saw an error unprotected: every reply on the TLS listener carries it.
    got, headers = _head_of(raw_https(envoy_sidecar, request_bytes))
    assert got == status
    assert {k: headers.get(k) for k in EXPECTED} == EXPECTED


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [c[1:] for c in ENVOY_OWN_REPLIES],
    ids=[c[0] for c in ENVOY_OWN_REPLIES],
)
def test_envoys_own_replies_are_json_statuses(
    envoy_sidecar: EnvoySidecar, request_bytes: bytes, status: int
) -> None:
    # HTTP/1.0's 426 was Envoy's text/plain "Upgrade Required".
    wire = raw_https(envoy_sidecar, request_bytes)
    got, headers = _head_of(wire)
    assert got == status
    assert headers["content-type"] == "application/json"
    body = json.loads(wire.partition(b"\r\n\r\n")[2])
    assert set(body) == {"code", "message"}, body
    assert body["code"] > 0 and body["message"]


def test_a_body_over_the_limit_carries_hsts(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    with client(envoy_sidecar) as http:
        resp = http.post(
            "/api/v1/chat", json={"message": "a" * 300_000}, headers=bearer(gateway_upstream.token)
        )
    assert resp.status_code == 413
    assert {k: resp.headers.get(k) for k in EXPECTED} == EXPECTED


def test_plain_http_listener_sends_no_hsts_but_the_rest(envoy_sidecar: EnvoySidecar) -> None:
    # RFC 6797: a browser ignores HSTS over plain HTTP; production renders no such listener.
    resp = httpx.get(envoy_sidecar.http_url + "/health")
    with socket.create_connection(("127.0.0.1", envoy_sidecar.http_port), timeout=20) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        wire = b"".join(iter(lambda: sock.recv(65536), b""))
    status, codec_error = _head_of(wire)
    assert (resp.status_code, status) == (200, 400)
    for headers in (resp.headers, codec_error):
        assert "strict-transport-security" not in headers
        assert headers["x-frame-options"] == "DENY"


def test_cors_preflight_is_exact(envoy_sidecar: EnvoySidecar) -> None:
    headers = {
        "origin": ALLOWED_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    with client(envoy_sidecar) as http:
        ok = http.options("/api/v1/chat/stream", headers=headers)
        evil = http.options(
            "/api/v1/chat/stream", headers={**headers, "origin": "https://evil.example.com"}
        )
        actual = http.get("/health", headers={"origin": ALLOWED_ORIGIN})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert ok.headers["access-control-allow-methods"] == "GET, POST, DELETE, OPTIONS"
    assert "authorization" in ok.headers["access-control-allow-headers"]
    assert ok.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in ok.headers
    assert "access-control-allow-origin" not in evil.headers
    assert actual.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    exposed = actual.headers["access-control-expose-headers"]
    assert "x-ratelimit-remaining," in exposed
    assert "x-ratelimit-remaining-tokens" in exposed  # the per-limit ones too


# The headers README.md promises on every chat call (x-novaos-overhead-ms travels as
# a trailer, which a grpc-web client reads in the trailer frame, or as a header of a
# trailers-only grpc-web reply).
CHAT_HEADERS = {
    "x-request-id",
    "x-novaos-worker",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-novaos-overhead-ms",
}


def _exposed(resp: httpx.Response) -> set[str]:
    return {h.strip() for h in resp.headers["access-control-expose-headers"].split(",")}


def test_a_page_can_read_every_header_a_chat_call_returns(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # x-novaos-worker and x-novaos-overhead-ms were missing: a page on an allowed
    # origin could not read them.
    headers = {"origin": ALLOWED_ORIGIN, **bearer(gateway_upstream.token)}
    with client(envoy_sidecar) as http:
        unary = http.post("/api/v1/chat", json={"message": "hi"}, headers=headers)
        stream = http.post("/api/v1/chat/stream", json={"message": "hi"}, headers=headers)
    for resp in (unary, stream):
        assert resp.status_code == 200, resp.text
        assert resp.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert _exposed(resp) >= CHAT_HEADERS
        for_proxies = {"x-accel-buffering", *EXPECTED}
        sent = {k for k in resp.headers if k.startswith("x-") and k not in for_proxies}
        assert sent <= _exposed(resp), sent - _exposed(resp)
        assert "x-novaos-worker" in sent


def test_allowed_origins_star_allows_any_origin_on_every_reply(
    gateway_upstream: Upstream, tmp_path: Path
) -> None:
    # ALLOWED_ORIGINS=* is accepted by the settings: the filter and the fallback for
    # replies sent before it must both honour it.
    origin = {"origin": "https://any.example.org", **bearer(gateway_upstream.admin_token)}
    for sidecar in run_sidecar(gateway_upstream, tmp_path, ALLOWED_ORIGINS="*"):
        with client(sidecar) as http:
            replies = [
                http.get("/health", headers=origin),
                http.get("/api/v1/audit/events?_=1", headers=origin),
                http.options(
                    "/api/v1/chat", headers={**origin, "access-control-request-method": "POST"}
                ),
            ]
    assert [r.status_code for r in replies] == [200, 400, 200]
    for resp in replies:
        assert resp.headers.get("access-control-allow-origin") == origin["origin"], (
            resp.request.url,
            resp.headers,
        )


def _handshake(sidecar: EnvoySidecar, version: ssl.TLSVersion) -> tuple[str | None, str | None]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(sidecar.ca_file))
    ctx.set_ciphers("ALL:@SECLEVEL=0")  # let the client *offer* old versions; the server decides
    ctx.minimum_version = ctx.maximum_version = version
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", sidecar.https_port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        cipher = tls.cipher()
        return tls.version(), cipher[0] if cipher else None


def test_tls_1_1_is_refused_by_the_server(envoy_sidecar: EnvoySidecar) -> None:
    # The client really offers TLS 1.1 (Python warns that it is deprecated);
    # the alert proves the refusal comes from the server.
    with (
        warnings.catch_warnings(),
        pytest.raises(ssl.SSLError, match="ALERT_PROTOCOL_VERSION"),
    ):
        warnings.simplefilter("ignore", DeprecationWarning)
        _handshake(envoy_sidecar, ssl.TLSVersion.TLSv1_1)


def test_tls_1_2_uses_the_guide_ciphers_and_1_3_is_accepted(envoy_sidecar: EnvoySidecar) -> None:
    v12 = _handshake(envoy_sidecar, ssl.TLSVersion.TLSv1_2)
    v13 = _handshake(envoy_sidecar, ssl.TLSVersion.TLSv1_3)
    assert v12 == ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert v13[0] == "TLSv1.3"


def test_tls_1_2_refuses_ciphers_outside_the_list(envoy_sidecar: EnvoySidecar) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(envoy_sidecar.ca_file))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305")
    with (
        pytest.raises(ssl.SSLError),
        socket.create_connection(("127.0.0.1", envoy_sidecar.https_port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost"),
    ):
        pass


def test_every_reply_varies_by_origin_when_cors_is_on(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # Whether a reply carries Access-Control-Allow-Origin depends on the request's
    # Origin: without "Vary: Origin" a shared cache could hand one origin's reply
    # (allowed, or not) to another.
    admin = bearer(gateway_upstream.admin_token)
    preflight = {"access-control-request-method": "POST"}
    with client(envoy_sidecar) as http:
        replies = [
            http.request(method, path, headers={**admin, **extra, **origin})
            for origin in ({"origin": ALLOWED_ORIGIN}, {"origin": "https://evil.example"}, {})
            for method, path, extra in (
                ("GET", "/health", {}),
                ("GET", "/api/v1/health", {}),
                ("GET", "/api/v1/audit/events?_=1", {}),  # refused before the CORS filter
                ("GET", "/api/v1/nope", {}),
                ("OPTIONS", "/api/v1/chat", preflight),
            )
        ]
    for resp in replies:
        vary = {v.strip().lower() for v in resp.headers.get_list("vary") for v in v.split(",")}
        assert "origin" in vary, (resp.request.method, resp.request.url, resp.headers)
