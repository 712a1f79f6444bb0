"""Each HTTP route through Envoy: transcoded JSON bodies, the page, and 404s."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.common import wait_until
from tests.fixtures.envoy import ALLOWED_ORIGIN, EnvoySidecar, Upstream
from tests.fixtures.gateway_thread import GatewayThread, long_turns
from tests.integration.envoy.helpers import bearer, client, raw_https, sse_events


def test_liveness_and_readiness_are_transcoded(envoy_sidecar: EnvoySidecar) -> None:
    with client(envoy_sidecar) as http:
        live = http.get("/health")
        ready = http.get("/ready")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert live.headers["content-type"] == "application/json"
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert set(ready.json()["checks"]) >= {"storage"}
    # gRPC framing headers are stripped from JSON answers
    assert "grpc-status" not in live.headers


@pytest.mark.parametrize("path", ["/health", "/ready", "/api/v1/health"])
def test_head_on_a_probe_path_answers_like_get_without_a_body(
    envoy_sidecar: EnvoySidecar, path: str
) -> None:
    # It was a 404: the transcoder only knew GET. Load balancers and uptime
    # checkers probe with HEAD (the guide's own check is `curl -I .../health`).
    with client(envoy_sidecar) as http:
        get = http.get(path)
        head = http.head(path)
    assert (head.status_code, get.status_code) == (200, 200)
    assert head.headers["content-type"] == "application/json"
    assert head.headers["strict-transport-security"] == get.headers["strict-transport-security"]
    if path != "/api/v1/health":  # its uptime changes the length between calls
        assert head.headers["content-length"] == str(len(get.content))
    # No body on the wire: a HEAD then a GET on one connection read as two replies
    # (bytes after the HEAD's headers would be taken for the GET's reply).
    wire = raw_https(
        envoy_sidecar,
        f"HEAD {path} HTTP/1.1\r\nhost: x\r\n\r\n"
        f"GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode(),
    )
    head_reply, _, rest = wire.partition(b"\r\n\r\n")
    assert head_reply.startswith(b"HTTP/1.1 200 "), wire[:300]
    assert rest.startswith(b"HTTP/1.1 200 "), wire[:600]


def test_head_over_http2_ends_cleanly(envoy_sidecar: EnvoySidecar) -> None:
    # Over HTTP/2 the body was sent as DATA: curl saw a PROTOCOL_ERROR. curl is
    # a test dependency (scripts/system_deps.sh): missing, the test fails.
    assert shutil.which("curl"), "curl is missing: run scripts/system_deps.sh"
    cmd = ["curl", "-sS", "-I", "--http2", "--cacert", str(envoy_sidecar.ca_file)]
    url = envoy_sidecar.https_url + "/health"
    done = subprocess.run([*cmd, url], check=False, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("HTTP/2 200"), done.stdout


def test_health_detail_and_circuits_print_every_field_with_proto_names(
    envoy_sidecar: EnvoySidecar,
) -> None:
    with client(envoy_sidecar) as http:
        health = http.get("/api/v1/health").json()
        circuits = http.get("/api/v1/health/circuits").json()
    assert health["status"] in {"ok", "degraded"}
    assert circuits["circuits"], circuits
    circuit = circuits["circuits"][0]
    # preserve_proto_field_names + always_print_primitive_fields: zeros present, snake_case
    assert {"provider", "state", "consecutive_failures", "retry_at_unix"} <= set(circuit)
    assert circuit["state"].startswith("CIRCUIT_STATE_")


def test_unary_chat_returns_json_with_the_request_id(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    with client(envoy_sidecar) as http:
        resp = http.post(
            "/api/v1/chat", json={"message": "hello"}, headers=bearer(gateway_upstream.token)
        )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["outcome"] == "OUTCOME_COMPLETED"
    assert body["text"]
    assert {"request_id", "gates_executed", "conversation_id", "usage"} <= set(body)
    assert resp.headers["x-request-id"] == body["request_id"]
    # Transcoded calls get the reply's metadata as initial metadata: HTTP headers.
    assert resp.headers["x-novaos-worker"] == "0"
    assert int(resp.headers["x-ratelimit-limit"]) > int(resp.headers["x-ratelimit-remaining"])


def test_caller_request_id_is_kept_end_to_end(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    headers = {**bearer(gateway_upstream.token), "x-request-id": "req-from-caller-1"}
    with client(envoy_sidecar) as http:
        resp = http.post("/api/v1/chat", json={"message": "hello"}, headers=headers)
    assert resp.json()["request_id"] == "req-from-caller-1"


# Ids the gateway refuses (it keeps ^[A-Za-z0-9_.:-]{1,64}$ only) and mints its own for.
REJECTED_IDS = {
    "space": "has space",
    "quote": 'a"b',
    "slash": "a/b",
    "65": "x" * 65,
    "100": "x" * 100,
}
REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _logged_ids(sidecar: EnvoySidecar, path: str) -> list[str]:
    return [e["requestId"] for e in sidecar.access_log() if e["path"] == path]


@pytest.mark.parametrize("given", REJECTED_IDS.values(), ids=REJECTED_IDS.keys())
def test_a_rejected_caller_request_id_is_replaced_by_one_id_everywhere(
    envoy_sidecar: EnvoySidecar,
    gateway_upstream: Upstream,
    gateway_thread: GatewayThread,
    given: str,
) -> None:
    # Envoy kept the caller's id, echoed it and logged it, while the gateway minted
    # its own for the body, the audit and its log: two ids for one request.
    headers = {**bearer(gateway_upstream.token), "x-request-id": given}
    with (
        client(envoy_sidecar) as http,
        http.stream("POST", "/api/v1/chat/stream", json={"message": "hi"}, headers=headers) as resp,
    ):
        assert resp.status_code == 200
        echoed = resp.headers["x-request-id"]
        events = list(sse_events(resp))
    assert echoed != given and REQUEST_ID.match(echoed)
    assert events[0]["started"]["request_id"] == echoed
    assert events[-1]["completed"]["request_id"] == echoed
    wait_until(
        lambda: gateway_thread.outcomes().get(echoed) == "completed",
        timeout_s=10,
        what="the audit record",
    )
    wait_until(
        lambda: echoed in _logged_ids(envoy_sidecar, "/api/v1/chat/stream"),
        timeout_s=15,
        what="the access log entry",
    )
    assert given not in _logged_ids(envoy_sidecar, "/api/v1/chat/stream")


@pytest.mark.parametrize("given", ["x" * 64, "ok-id.1:_Z", "-"])
def test_a_valid_caller_request_id_is_kept_and_echoed(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, given: str
) -> None:
    headers = {**bearer(gateway_upstream.token), "x-request-id": given}
    with client(envoy_sidecar) as http:
        resp = http.post("/api/v1/chat/stream", json={"message": "hi"}, headers=headers)
    assert resp.headers["x-request-id"] == given
    assert next(sse_events(resp))["started"]["request_id"] == given


def test_envoys_own_replies_carry_a_valid_request_id(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # Replies Envoy sends itself (catch-all 404, body limit 413) never reach the
    # gateway; a rejected caller id is replaced there too, a valid one kept.
    big = {"message": "a" * 300_000}
    with client(envoy_sidecar) as http:
        for given in ("has space", "kept-1"):
            headers = {**bearer(gateway_upstream.token), "x-request-id": given}
            for resp in (
                http.get("/api/v1/nope", headers=headers),
                http.post("/api/v1/chat", json=big, headers=headers),
            ):
                assert resp.status_code in (404, 413), resp.text
                echoed = resp.headers["x-request-id"]
                assert echoed == given if given == "kept-1" else REQUEST_ID.match(echoed)


def test_admin_routes_are_transcoded(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    with client(envoy_sidecar) as http:
        http.post("/api/v1/chat", json={"message": "hello"}, headers=bearer(gateway_upstream.token))
        found: list[dict[str, object]] = []

        def listed() -> bool:  # records are stored after the answer went out
            events = http.get(
                "/api/v1/audit/events?page_size=5", headers=bearer(gateway_upstream.admin_token)
            )
            assert events.status_code == 200, events.text
            found[:] = events.json().get("events", [])
            return bool(found)

        wait_until(listed, what="an audit record")
        conversations = http.get("/api/v1/conversations", headers=bearer(gateway_upstream.token))
    assert found[0]["outcome"] in {"completed", "cancelled"}
    assert conversations.status_code == 200


@pytest.mark.parametrize("body", [None, {}, {"provider": "mock"}])
def test_reset_circuit_resets_the_provider_the_path_names(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, body: dict[str, str] | None
) -> None:
    with client(envoy_sidecar) as http:
        resp = http.post(
            "/api/v1/health/circuits/mock:reset",
            json=body,
            headers=bearer(gateway_upstream.admin_token),
        )
    assert resp.status_code == 200, resp.text
    assert resp.json()["circuit"]["provider"] == "mock", resp.json()


@pytest.mark.parametrize("other", ["nope", "openai", "Mock"])
def test_reset_circuit_refuses_a_body_naming_another_provider(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, other: str
) -> None:
    # The transcoder let the body's "provider" win over the path's: POST
    # .../circuits/mock:reset with {"provider":"openai_compat"} reset openai_compat,
    # while Envoy's access log (and any path-based rule in front) saw mock.
    with client(envoy_sidecar) as http:
        resp = http.post(
            "/api/v1/health/circuits/mock:reset",
            json={"provider": other},
            headers=bearer(gateway_upstream.admin_token),
        )
    assert resp.status_code == 400, resp.text
    assert resp.json() == {
        "code": 3,
        "message": f'The binding value "mock" of the field provider is conflicting'
        f' with the value "{other}" in the body.',
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/health/circuits/mock:reset?provider=openai", None, "provider"),
        (
            "POST",
            "/api/v1/health/circuits/mock:reset",
            '{"provider":"mock","provider":"x"}',
            "provider",
        ),
        ("GET", "/api/v1/conversations/abc?conversation_id=other", None, "conversation_id"),
        ("GET", "/api/v1/conversations/abc?conversationId=other", None, "conversation_id"),
        ("DELETE", "/api/v1/conversations/abc?conversation_id=other", None, "conversation_id"),
        (
            "DELETE",
            "/api/v1/conversations/abc",
            '{"conversation_id":"abc","conversation_id":"xyz"}',
            "conversation_id",
        ),
        ("GET", "/api/v1/audit/events/xyz?id=other", None, "id"),
    ],
)
def test_a_query_parameter_or_repeated_key_cannot_override_the_path(
    envoy_sidecar: EnvoySidecar,
    gateway_upstream: Upstream,
    method: str,
    path: str,
    body: str | None,
    field: str,
) -> None:
    # The transcoder let a query parameter, or the last of a repeated body key,
    # win over the path variable: .../circuits/mock:reset?provider=openai reset
    # openai, GET /conversations/abc?conversation_id=other read "other", while the
    # access log (which leaves out the query) named mock and abc.
    headers = {**bearer(gateway_upstream.admin_token), "content-type": "application/json"}
    with client(envoy_sidecar) as http:
        resp = http.request(method, path, content=body, headers=headers)
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == 3, resp.json()
    assert resp.json()["message"].startswith(f"{field}: the path names "), resp.json()
    violations = [v for d in resp.json()["details"] for v in d.get("field_violations", [])]
    assert [v["field"] for v in violations] == [field], resp.json()


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("DELETE", "/api/v1/conversations/decoy/?conversation_id=victim", "conversation_id"),
        ("GET", "/api/v1/conversations/decoy/?conversationId=victim", "conversation_id"),
        ("DELETE", "/api/v1/conversations/decoy//?conversation_id=victim", "conversation_id"),
        ("GET", "/api/v1/conversations/decoy/./?conversation_id=victim", "conversation_id"),
        ("GET", "/api/v1/conversations/decoy/%2E?conversation_id=victim", "conversation_id"),
        ("DELETE", "/api/v1/conversations/decoy/%2E/?conversation_id=victim", "conversation_id"),
        ("GET", "/api/v1/audit/events/xyz/?id=other", "id"),
        ("GET", "/api/v1/audit/events/xyz//?id=other", "id"),
    ],
)
def test_a_trailing_slash_or_dot_segment_does_not_let_the_query_override_the_path(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, method: str, path: str, field: str
) -> None:
    # The transcoder's path matcher drops trailing slashes (and Envoy takes these
    # paths to the method): the gateway's check did not match them and let the
    # call through, so DELETE .../decoy/?conversation_id=victim deleted victim
    # while the access log named decoy. Sent raw: an HTTP client would tidy them.
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: Bearer {gateway_upstream.admin_token}\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n"
    ).encode()
    head, _, body = raw_https(envoy_sidecar, request).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), (head, body)
    reply = json.loads(body)
    assert reply["code"] == 3, reply
    assert reply["message"].startswith(f"{field}: the path "), reply
    violations = [v for d in reply["details"] for v in d.get("field_violations", [])]
    assert [v["field"] for v in violations] == [field], reply


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/health/circuits/mock:reset?provider=mock",
        "/api/v1/health/circuits/m%6Fck:reset",
        "/api/v1/health/circuits/m%6Fck:reset?provider=mock",
    ],
)
def test_a_query_parameter_naming_the_paths_own_value_is_taken(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, path: str
) -> None:
    with client(envoy_sidecar) as http:
        resp = http.post(path, headers=bearer(gateway_upstream.admin_token))
    assert resp.status_code == 200, resp.text
    assert resp.json()["circuit"]["provider"] == "mock", resp.json()


def test_audit_events_take_after_seq_as_a_query_parameter(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # How an SSE watcher that was cut off reads on: the transcoder must know the
    # field (it refuses unknown query parameters) and pass it on.
    admin, user = bearer(gateway_upstream.admin_token), bearer(gateway_upstream.token)
    with client(envoy_sidecar) as http:
        for _ in range(2):
            http.post("/api/v1/chat", json={"message": "hi"}, headers=user)
        seqs: list[int] = []

        def listed() -> bool:  # records are stored after the answer went out
            every = http.get("/api/v1/audit/events?page_size=500", headers=admin)
            seqs[:] = [int(e["seq"]) for e in every.json()["events"]]  # int64: JSON strings
            return len(seqs) >= 2

        wait_until(listed, what="2 audit records")
        after = http.get(f"/api/v1/audit/events?page_size=500&after_seq={seqs[-2]}", headers=admin)
        negative = http.get("/api/v1/audit/events?after_seq=-1", headers=admin)
    assert after.status_code == 200, after.text
    # Every record past it, in order (the shared gateway may have stored more since).
    resumed = [int(e["seq"]) for e in after.json()["events"]]
    assert resumed == list(range(seqs[-2] + 1, seqs[-2] + 1 + len(resumed))), resumed
    assert resumed[0] == seqs[-1]
    assert negative.status_code == 400, negative.text
    assert negative.json()["message"].startswith("after_seq: must not be negative")


def test_chat_page_is_served_by_envoy_with_a_self_only_csp(envoy_sidecar: EnvoySidecar) -> None:
    with client(envoy_sidecar) as http:
        page = http.get("/")
        script = http.get("/app.js")
        post = http.post("/", content=b"x")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/app.js"></script>' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert script.headers["content-type"].startswith("text/javascript")
    assert post.status_code == 404


def test_unknown_paths_and_metrics_are_not_exposed(envoy_sidecar: EnvoySidecar) -> None:
    with client(envoy_sidecar) as http:
        for path in (
            "/metrics",
            "/stats",
            "/api/v1/nope",
            "/grpc.reflection.v1.ServerReflection/x",
        ):
            resp = http.get(path)
            assert resp.status_code == 404, path
            assert resp.json() == {"code": 5, "message": "Not Found"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v1/chat", "POST"),
        ("GET", "/api/v1/chat/stream", "POST"),
        ("POST", "/health", "GET, HEAD"),
        ("PATCH", "/api/v1/conversations/conv_1", "DELETE, GET"),
        ("HEAD", "/api/v1/audit/events", "GET"),
    ],
)
def test_a_known_path_with_another_method_is_405_with_allow(
    envoy_sidecar: EnvoySidecar, method: str, path: str, allow: str
) -> None:
    # It fell through to the catch-all: 404 {"code":5,"message":"Not Found"}.
    with client(envoy_sidecar) as http:
        resp = http.request(method, path, headers={"origin": ALLOWED_ORIGIN})
    assert resp.status_code == 405, resp.text
    assert resp.headers["allow"] == allow
    if method != "HEAD":
        assert resp.json() == {"code": 12, "message": "Method Not Allowed"}
    assert resp.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_a_long_conversation_is_served_as_json(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # Over the 32 KiB the transcoder buffered by default: it answered a plain
    # text 500 instead of the conversation.
    headers = bearer(gateway_upstream.token)
    long_turn = "Please keep this note for later. " * 600  # ~20 KB
    with client(envoy_sidecar) as http:
        for _ in range(2):
            body = {"message": long_turn, "conversationId": "long-notes"}
            assert http.post("/api/v1/chat", json=body, headers=headers).status_code == 200
        resp = http.get("/api/v1/conversations/long-notes", headers=headers)
    assert resp.status_code == 200, resp.text[:300]
    assert resp.headers["content-type"] == "application/json"
    assert len(resp.content) > 40_000
    assert [t["role"] for t in resp.json()["turns"]] == ["user", "assistant"] * 2


def test_a_conversation_past_4_mib_serves_its_newest_turns_and_says_how_many_are_left_out(
    envoy_sidecar: EnvoySidecar, gateway_thread: GatewayThread, gateway_upstream: Upstream
) -> None:
    # Ten exchanges of a long question (31,000 characters, 93 KB) and a long answer
    # (300,000 characters, 900 KB), within the default CONVERSATION_MAX_TURNS: its
    # reply (~10 MB) was an HTTP 500 through the sidecar ("transcoder's internal
    # buffer size exceeds the configured limit") and RESOURCE_EXHAUSTED for a gRPC
    # client with the default 4 MiB receive limit, so the chat page's reload broke.
    turns = long_turns()
    history = gateway_thread.app.conversations
    assert history is not None
    gateway_thread.run(history.append_turns("envoy-tester", "long-answers", turns))
    with client(envoy_sidecar) as http:
        resp = http.get(
            "/api/v1/conversations/long-answers", headers=bearer(gateway_upstream.token)
        )
    assert resp.status_code == 200, resp.text[:300]
    body = resp.json()
    served = [(t["role"], t["text"]) for t in body["turns"]]
    omitted = body["omitted_turns"]
    assert 0 < omitted < len(turns) and served == turns[omitted:]
    assert served[0][0] == "user"

    async def over_grpc() -> chat_pb2.GetConversationResponse:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway_thread.port}") as channel:
            stub = chat_pb2_grpc.ChatServiceStub(channel)
            request = chat_pb2.GetConversationRequest(conversation_id="long-answers")
            return await stub.GetConversation(
                request, metadata=(("authorization", f"Bearer {gateway_upstream.token}"),)
            )

    found = gateway_thread.run(over_grpc())  # a client's default 4 MiB receive limit
    assert found.omitted_turns == omitted and len(found.turns) == len(served)
    assert found.ByteSize() <= 4 * 1024 * 1024


def test_the_route_timeouts_bound_http_calls(
    gateway_upstream: Upstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # ENVOY_STREAM_TIMEOUT_MS must bound an SSE chat that runs longer (the mock
    # streams for ~1.2 s here): with max_stream_duration set, Envoy ignored the
    # route timeout, and a call without grpc-timeout had no bound at all. The
    # stream ends in-band before the limit, with a terminal event saying why: cut
    # by Envoy, an SSE client saw the body stop with no `completed`.
    env = {
        "ENVOY_UPSTREAM_HOST": gateway_upstream.host,
        "ENVOY_UPSTREAM_PORT": str(gateway_upstream.port),
        "ENVOY_STREAM_TIMEOUT_MS": "600",
    }
    sidecar = EnvoySidecar(tmp_path_factory.mktemp("envoy-timeouts"), env)
    sidecar.start()
    try:
        with (
            client(sidecar) as http,
            http.stream(
                "POST",
                "/api/v1/chat/stream",
                json={"message": "plan my week"},
                headers=bearer(gateway_upstream.token),
            ) as resp,
        ):
            assert resp.status_code == 200
            events = list(sse_events(resp))  # a cut body fails here (RemoteProtocolError)
    finally:
        sidecar.stop()
    kinds = [next(iter(e)) for e in events]
    assert kinds[:1] == ["started"] and kinds.count("completed") == 1, kinds
    done = events[-1]["completed"]
    assert (done["outcome"], done["detail"]) == ("OUTCOME_CANCELLED", "stream time limit reached")
    released = "".join(e["delta"]["text"] for e in events if "delta" in e)
    assert int(done["released_chars"]) == len(released)
