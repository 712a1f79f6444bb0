"""Envoy's access log: what the client sent, not what the transcoder made of it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from novaos.sidecar.local_replies import TIME_LIMIT_MESSAGE
from tests.fixtures.common import wait_until
from tests.fixtures.envoy import ALLOWED_ORIGIN, EnvoySidecar, Upstream, sidecar_for
from tests.fixtures.fake_providers import FakeProviderServer, Reply, paced
from tests.fixtures.gateway_thread import GatewayThread, fresh_token
from tests.fixtures.provider_wire import openai_stream
from tests.integration.envoy.helpers import bearer, client


def _logged(sidecar: EnvoySidecar, ids: set[str]) -> dict[str, dict[str, Any]]:
    """The access-log entries of these request ids, once all are written."""

    def entries() -> dict[str, dict[str, Any]]:
        return {e["requestId"]: e for e in sidecar.access_log() if e["requestId"] in ids}

    wait_until(lambda: set(entries()) == ids, timeout_s=15, what="access log entries")
    return entries()


def test_the_access_log_keeps_the_method_the_client_sent(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The transcoder turns every call it transcodes into a POST: the log said
    # POST for a GET of the health, a DELETE of a conversation, a HEAD probe.
    run = uuid.uuid4().hex[:8]
    user = bearer(gateway_upstream.token)
    calls = {  # request id -> (method, path, HTTP status)
        f"get-{run}": ("GET", "/api/v1/health", 200),
        f"head-{run}": ("HEAD", "/health", 200),
        f"delete-{run}": ("DELETE", "/api/v1/conversations/nope", 404),
        f"post-{run}": ("POST", "/api/v1/chat", 200),
        f"page-{run}": ("GET", "/", 200),  # not transcoded
        f"wrong-{run}": ("PUT", "/api/v1/chat", 405),
    }
    with client(envoy_sidecar) as http:
        for rid, (method, path, status) in calls.items():
            body = {"message": "hi"} if method == "POST" else None
            resp = http.request(method, path, json=body, headers={**user, "x-request-id": rid})
            assert resp.status_code == status, (rid, resp.text)
    logged = _logged(envoy_sidecar, set(calls))
    assert {rid: e["method"] for rid, e in logged.items()} == {
        rid: method for rid, (method, _, _) in calls.items()
    }
    assert {rid: e["path"] for rid, e in logged.items()} == {
        rid: path for rid, (_, path, _) in calls.items()
    }


def test_the_access_log_leaves_out_the_query_string(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The query went into the log as sent: a token passed as ?access_token= (which
    # the gateway does not take, but clients try) was written out in the clear.
    run = uuid.uuid4().hex[:8]
    user = bearer(gateway_upstream.token)
    secret = f"s3cret-{run}"
    calls = {  # request id -> (path sent, path logged, HTTP status)
        f"token-{run}": (f"/api/v1/health?access_token={secret}", "/api/v1/health", 400),
        f"page-{run}": (f"/?access_token={secret}", "/", 200),  # not transcoded
        f"nopath-{run}": (f"/api/v1/nope?key={secret}", "/api/v1/nope", 404),
        f"list-{run}": ("/api/v1/conversations?page_size=1", "/api/v1/conversations", 200),
    }
    with client(envoy_sidecar) as http:
        for rid, (path, _, status) in calls.items():
            resp = http.get(path, headers={**user, "x-request-id": rid})
            assert resp.status_code == status, (rid, resp.text)
    logged = _logged(envoy_sidecar, set(calls))
    assert {rid: e["path"] for rid, e in logged.items()} == {
        rid: path for rid, (_, path, _) in calls.items()
    }
    assert not [e for e in logged.values() if secret in repr(e) or "?" in e["route"]], logged
    # The route is still what the transcoder called (the gRPC method).
    assert logged[f"list-{run}"]["route"] == "/novaos.v1.ChatService/ListConversations"


@pytest.fixture(scope="module")
def slow_chat_sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnvoySidecar]:
    """A model that takes 6 s to answer; the sidecar gives a unary chat 1 s."""
    gateway = GatewayThread()
    upstream = gateway.run(FakeProviderServer().start())
    tokens = ["word "] * 20
    upstream.default = Reply(body=paced(openai_stream(tokens, (12, len(tokens))), 0.3))
    try:
        gateway.start(
            PREFERRED_PROVIDER="openai",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=upstream.url + "/v1",
        )
        workdir = tmp_path_factory.mktemp("envoy-chat-timeout")
        yield from sidecar_for(gateway, workdir, ENVOY_CHAT_TIMEOUT_MS="1000")
    finally:
        gateway.run(upstream.close())
        gateway.stop()


def test_a_unary_chat_past_the_sidecar_limit_is_logged_with_the_code_it_got(
    slow_chat_sidecar: EnvoySidecar,
) -> None:
    # Envoy's own 504 carried {"code":4} but was logged as 14 (its guess from 504,
    # UNAVAILABLE): a dashboard counting UNAVAILABLE counted chat timeouts as outages.
    rid = f"slow-{uuid.uuid4().hex[:8]}"
    resp = _chat_past_the_limit(slow_chat_sidecar, {"x-request-id": rid})
    assert resp.status_code == 504, resp.text
    body = resp.json()
    # Said as the gateway says a deadline, not as Envoy's "downstream duration timeout".
    assert (body["code"], body["message"]) == (4, TIME_LIMIT_MESSAGE), body
    assert body["details"][0]["reason"] == "DEADLINE_EXCEEDED", body
    assert _logged(slow_chat_sidecar, {rid})[rid]["grpcStatus"] == "4"


def test_the_504_at_the_sidecar_limit_is_readable_by_an_allowed_page(
    slow_chat_sidecar: EnvoySidecar,
) -> None:
    # Sent straight to the codec, past the filters, it had no CORS headers (a page
    # saw a network error, not the 504) and none of the security headers.
    allowed = _chat_past_the_limit(slow_chat_sidecar, {"origin": ALLOWED_ORIGIN})
    other = _chat_past_the_limit(slow_chat_sidecar, {"origin": "https://elsewhere.example"})
    for resp in (allowed, other):
        assert resp.status_code == 504, resp.text
        assert resp.json()["code"] == 4, resp.text
        assert resp.headers["x-content-type-options"] == "nosniff", resp.headers
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["strict-transport-security"].startswith("max-age=")
        assert (
            resp.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        )
        assert resp.headers["vary"] == "Origin"
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN, allowed.headers
    assert "x-request-id" in allowed.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in other.headers, other.headers
    assert "access-control-expose-headers" not in other.headers


def _chat_past_the_limit(sidecar: EnvoySidecar, headers: dict[str, str]) -> httpx.Response:
    def body() -> Iterator[bytes]:
        # Envoy's timer starts with the headers, the gateway's deadline (the same
        # limit, passed on) once the buffered body has gone upstream: a body sent
        # late makes Envoy's the one that fires, not the gateway's "Deadline Exceeded".
        yield b'{"message":'
        time.sleep(0.4)
        yield b'"plan my week"}'

    with client(sidecar) as http:
        return http.post(
            "/api/v1/chat",
            content=body(),
            headers={**bearer(fresh_token()), "content-type": "application/json", **headers},
        )
