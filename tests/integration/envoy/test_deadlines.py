"""A grpc-web stream that has begun, at its caller's ``grpc-timeout`` or at the
sidecar's own limit (``ENVOY_STREAM_TIMEOUT_MS``).

Envoy arms a timer from the shorter of the two and, once the reply has begun, can
only reset the stream when it fires (envoyproxy/envoy#13925): over HTTP/1.1 the
connection was cut (curl exit 18), over HTTP/2 the stream reset (exit 92), with
no status either way. The gateway ends the stream itself before that timer fires.
"""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.services.chat import ANSWER_TIME_LIMIT_REACHED
from novaos.sidecar.local_replies import REQUEST_TIME_LIMIT_MESSAGE, TIME_LIMIT_MESSAGE
from tests.fixtures.common import wait_until
from tests.fixtures.envoy import ALLOWED_ORIGIN, EnvoySidecar, Upstream, run_sidecar, sidecar_for
from tests.fixtures.fake_providers import FakeProviderServer, Pause, Reply
from tests.fixtures.gateway_thread import GatewayThread
from tests.fixtures.provider_wire import openai_json
from tests.integration.envoy.grpc_helpers import grpc_web_frame, grpc_web_frames, tls_channel
from tests.integration.envoy.helpers import bearer, client, sse_events


@pytest.mark.parametrize(
    ("protocol", "timeout", "marked"),
    [("--http1.1", "300m", True), ("--http2", "800m", True), ("--http1.1", "800m", False)],
)
def test_grpc_web_stream_past_its_grpc_timeout_ends_with_deadline_exceeded(
    envoy_sidecar: EnvoySidecar,
    gateway_upstream: Upstream,
    tmp_path: Path,
    protocol: str,
    timeout: str,
    marked: bool,
) -> None:
    """``marked``: the client sends x-grpc-web (not every grpc-web client does)."""
    headers = {"grpc-timeout": timeout}  # the answer takes 60 x 20 ms
    if marked:
        headers["x-grpc-web"] = "1"
    frames = _stream_chat(envoy_sidecar, gateway_upstream.token, protocol, headers, tmp_path)
    _assert_ended_in_band(frames)


@pytest.fixture(scope="module")
def short_limit_sidecar(
    gateway_upstream: Upstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnvoySidecar]:
    """A stream limit shorter than the answer (60 x 20 ms)."""
    workdir = tmp_path_factory.mktemp("envoy-stream-limit")
    yield from run_sidecar(gateway_upstream, workdir, ENVOY_STREAM_TIMEOUT_MS="800")


@pytest.mark.parametrize(
    ("protocol", "timeout"),
    [("--http1.1", None), ("--http2", None), ("--http1.1", "10S"), ("--http2", "10S")],
)
def test_grpc_web_stream_at_the_sidecar_limit_ends_with_deadline_exceeded(
    short_limit_sidecar: EnvoySidecar,
    gateway_upstream: Upstream,
    tmp_path: Path,
    protocol: str,
    timeout: str | None,
) -> None:
    # Browsers' grpc-web clients mostly send no deadline. Envoy passed its limit on
    # as grpc-timeout to native and transcoded calls only: a grpc-web call is routed
    # before grpc_web makes it gRPC, so the gateway got no deadline (or the caller's
    # longer one, which Envoy clamps) and Envoy's timer cut the stream.
    headers = {} if timeout is None else {"grpc-timeout": timeout}
    frames = _stream_chat(short_limit_sidecar, gateway_upstream.token, protocol, headers, tmp_path)
    _assert_ended_in_band(frames)


def test_a_native_grpc_callers_x_grpc_web_does_not_end_its_stream_early(
    short_limit_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # The gateway ends a grpc-web stream 1 s (half of a short limit) before its
    # deadline. It trusted a caller's own x-grpc-web: a native gRPC stream sending
    # it lost that time, ended by "stream time limit reached" and an in-band
    # completed. Only the sidecar says which call is grpc-web.
    metadata = [("authorization", f"Bearer {gateway_upstream.token}"), ("x-grpc-web", "1")]
    request = chat_pb2.StreamChatRequest(message="plan my week")
    kinds: list[str | None] = []
    with tls_channel(short_limit_sidecar) as channel, pytest.raises(grpc.RpcError) as err:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        for event in stub.StreamChat(request, metadata=metadata, timeout=10):
            kinds.append(event.WhichOneof("event"))
    assert kinds[:1] == ["started"] and "completed" not in kinds, kinds
    assert err.value.details() != "stream time limit reached", err.value


def test_an_sse_callers_x_grpc_web_does_not_change_its_logged_status(
    short_limit_sidecar: EnvoySidecar, gateway_upstream: Upstream
) -> None:
    # With the header, an SSE stream at the limit was logged (and counted by the
    # gateway) as DEADLINE_EXCEEDED; the SSE caller itself reads no status.
    rid = f"sse-{uuid.uuid4().hex[:8]}"
    headers = {**bearer(gateway_upstream.token), "x-grpc-web": "1", "x-request-id": rid}
    body = {"message": "plan my week"}
    with (
        client(short_limit_sidecar) as http,
        http.stream("POST", "/api/v1/chat/stream", json=body, headers=headers) as resp,
    ):
        events = list(sse_events(resp))
    assert events[-1]["completed"]["detail"] == "stream time limit reached", events[-1]

    def logged() -> list[dict[str, str]]:
        return [e for e in short_limit_sidecar.access_log() if e.get("requestId") == rid]

    wait_until(lambda: bool(logged()), timeout_s=15, what="the stream's access-log line")
    assert logged()[0]["grpcStatus"] == "0", logged()


def _stream_chat(
    sidecar: EnvoySidecar, token: str, protocol: str, extra: dict[str, str], tmp_path: Path
) -> list[tuple[int, bytes]]:
    request = chat_pb2.StreamChatRequest(message="plan my week").SerializeToString()
    return _grpc_web_call(sidecar, token, "StreamChat", request, protocol, extra, tmp_path)


def _assert_ended_in_band(frames: list[tuple[int, bytes]]) -> None:
    assert frames[0][0] == 0x00, "the stream had begun"
    flag, trailers = frames[-1]
    assert flag == 0x80, frames[-1]
    assert b"grpc-status:4\r\n" in trailers, trailers
    assert b"grpc-message:stream time limit reached" in trailers, trailers
    assert b"x-novaos-overhead-ms" in trailers, trailers
    # Told in-band first, as an SSE client is.
    last = chat_pb2.StreamChatResponse.FromString(frames[-2][1])
    assert last.completed.outcome == chat_pb2.OUTCOME_CANCELLED, last
    assert last.completed.detail == "stream time limit reached"


@pytest.mark.parametrize("timeout", ["1m", "1u"])
def test_grpc_web_call_at_a_short_grpc_timeout_is_never_unavailable(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, timeout: str
) -> None:
    # Envoy's timer, armed from grpc-timeout, won the race against the gateway's
    # own deadline about one call in ten to three: its reply was HTTP 504 with
    # grpc-status 14 (UNAVAILABLE, which clients retry, a chat included)
    # "downstream duration timeout". Whichever side wins, the caller gets 4 (or
    # its answer, when the gateway was faster still).
    headers = {
        "content-type": "application/grpc-web+proto",
        "grpc-timeout": timeout,
        **bearer(gateway_upstream.token),
    }
    seen = set()
    with client(envoy_sidecar) as http:
        for _ in range(60):
            resp = http.post(
                "/novaos.v1.ChatService/ListConversations",
                content=grpc_web_frame(b""),
                headers=headers,
            )
            status = resp.headers.get("grpc-status")  # trailers-only: an error
            if status is None:
                status = grpc_web_frames(resp.content)[-1][1].split(b"\r\n")[0].decode()[12:]
            seen.add((resp.status_code, status, resp.headers.get("grpc-message")))
    # Envoy's 408 when its timer fires before it has read the whole body.
    envoy = {(200, "4", TIME_LIMIT_MESSAGE), (200, "4", REQUEST_TIME_LIMIT_MESSAGE)}
    assert seen <= {(200, "0", None), (200, "4", "Deadline Exceeded"), *envoy}, seen


@pytest.mark.parametrize("origin", [None, ALLOWED_ORIGIN])
def test_grpc_web_call_at_its_grpc_timeout_before_its_body_arrived_is_deadline_exceeded(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, origin: str | None
) -> None:
    # Half the body held back keeps the call in Envoy, so its timer fires every
    # time: a 408, which grpc_web turned into grpc-status 2 (UNKNOWN).
    frame = grpc_web_frame(chat_pb2.ChatRequest(message="plan my week").SerializeToString())
    head = [
        "POST /novaos.v1.ChatService/Chat HTTP/1.1",
        f"host: localhost:{envoy_sidecar.https_port}",
        "content-type: application/grpc-web+proto",
        f"authorization: Bearer {gateway_upstream.token}",
        "grpc-timeout: 200m",
        f"content-length: {len(frame)}",
    ]
    if origin is not None:
        head.append(f"origin: {origin}")
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + frame[: len(frame) // 2]
    status_line, headers, body = _first_reply(envoy_sidecar, request)
    assert status_line.startswith("HTTP/1.1 200"), (status_line, headers)
    assert headers.get("grpc-status") == "4", headers
    assert headers.get("grpc-message") == REQUEST_TIME_LIMIT_MESSAGE, headers
    packed = headers["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(base64.b64decode(packed + "=" * (-len(packed) % 4)))
    info = error_details_pb2.ErrorInfo()
    assert status.code == 4 and status.details[0].Unpack(info), status
    assert (info.reason, info.domain) == ("DEADLINE_EXCEEDED", "novaos.dev")
    assert body == b"", body  # trailers-only: no message frame
    if origin is not None:
        assert headers.get("access-control-allow-origin") == origin, headers


def _first_reply(sidecar: EnvoySidecar, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send ``request`` over TLS (HTTP/1.1) and read one reply, which has a
    Content-Length: its status line, headers (lower-case names) and body."""
    ctx = ssl.create_default_context(cafile=str(sidecar.ca_file))
    ctx.set_alpn_protocols(["http/1.1"])
    data = b""
    with (
        socket.create_connection(("127.0.0.1", sidecar.https_port), timeout=20) as sock,
        ctx.wrap_socket(sock, server_hostname="localhost") as tls,
    ):
        tls.sendall(request)
        while b"\r\n\r\n" not in data and (chunk := tls.recv(65536)):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length and (chunk := tls.recv(65536)):
            body += chunk
    return lines[0], headers, body


@pytest.fixture(scope="module")
def slow_answer(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EnvoySidecar, str, FakeProviderServer]]:
    """A sidecar and a token for a gateway whose provider takes 3 s over a whole
    (unary) answer (unless a test queues another), and that provider."""
    gateway = GatewayThread()
    upstream = gateway.run(FakeProviderServer().start())
    answer = openai_json("Here is a plan for your week.", (12, 8))
    upstream.default = Reply(body=[Pause(3.0), answer], content_type="application/json")
    try:
        gateway.start(
            PREFERRED_PROVIDER="openai",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=upstream.url + "/v1",
        )
        for sidecar in sidecar_for(gateway, tmp_path_factory.mktemp("envoy-slow-answer")):
            yield sidecar, gateway.token, upstream
    finally:
        gateway.run(upstream.close())
        gateway.stop()


@pytest.mark.parametrize(("protocol", "timeout"), [("--http1.1", "500m"), ("--http2", "2S")])
def test_grpc_web_chat_past_its_grpc_timeout_ends_with_deadline_exceeded(
    slow_answer: tuple[EnvoySidecar, str, FakeProviderServer],
    tmp_path: Path,
    protocol: str,
    timeout: str,
) -> None:
    # The gateway sends a grpc-web Chat's headers when it starts, so Envoy's timer
    # (armed from the same grpc-timeout) could only reset the call: the body
    # stopped with no status (curl exit 18 over HTTP/1.1, 92 over HTTP/2). The
    # gateway now ends it first.
    request = chat_pb2.ChatRequest(message="plan my week").SerializeToString()
    sidecar, token, _ = slow_answer
    headers = {"grpc-timeout": timeout}
    frames = _grpc_web_call(sidecar, token, "Chat", request, protocol, headers, tmp_path)
    assert [flag for flag, _ in frames] == [0x80], frames  # no message, then the trailers
    assert b"grpc-status:4\r\n" in frames[0][1], frames[0]
    assert f"grpc-message:{ANSWER_TIME_LIMIT_REACHED}\r\n".encode() in frames[0][1], frames[0]


@pytest.mark.parametrize(("protocol", "timeout"), [("--http1.1", "2S"), ("--http2", "1800m")])
def test_grpc_web_chat_answered_well_inside_its_grpc_timeout_gets_its_answer(
    slow_answer: tuple[EnvoySidecar, str, FakeProviderServer],
    tmp_path: Path,
    protocol: str,
    timeout: str,
) -> None:
    # The gateway ends a grpc-web Chat a margin before its deadline. That margin
    # was 1 s (half of a limit under 2 s): an answer arriving after 1.4 s of a
    # 2 s (or 1.8 s) limit was thrown away (paid for) and the caller read
    # DEADLINE_EXCEEDED with time to spare.
    sidecar, token, upstream = slow_answer
    answer = openai_json("Here is a plan for your week.", (12, 8))
    upstream.queue(Reply(body=[Pause(1.4), answer], content_type="application/json"))
    request = chat_pb2.ChatRequest(message="plan my week").SerializeToString()
    headers = {"grpc-timeout": timeout}
    frames = _grpc_web_call(sidecar, token, "Chat", request, protocol, headers, tmp_path)
    assert [flag for flag, _ in frames] == [0x00, 0x80], frames  # the answer, then trailers
    assert b"grpc-status:0\r\n" in frames[1][1], frames[1]
    reply = chat_pb2.ChatResponse.FromString(frames[0][1])
    assert reply.text == "Here is a plan for your week.", reply


@pytest.mark.parametrize("method", ["Chat", "StreamChat"])
def test_grpc_web_chat_at_a_very_short_grpc_timeout_always_gets_a_status(
    envoy_sidecar: EnvoySidecar, gateway_upstream: Upstream, method: str
) -> None:
    # 3 ms: Envoy's timer fired after the gateway had sent headers, in about two
    # calls of three, and the reply stopped with no status.
    message = chat_pb2.ChatRequest if method == "Chat" else chat_pb2.StreamChatRequest
    body = grpc_web_frame(message(message="plan my week").SerializeToString())
    headers = {
        "content-type": "application/grpc-web+proto",
        "grpc-timeout": "3m",
        **bearer(gateway_upstream.token),
    }
    seen = set()
    with client(envoy_sidecar) as http:
        for _ in range(30):
            try:
                resp = http.post(f"/novaos.v1.ChatService/{method}", content=body, headers=headers)
            except httpx.RemoteProtocolError as err:  # the body cut short
                seen.add(("cut", str(err)[:40]))
                continue
            status = resp.headers.get("grpc-status")  # trailers-only
            if status is None:
                frames = grpc_web_frames(resp.content)
                status = "trailer " + frames[-1][1].split(b"\r\n")[0].decode()
            seen.add((resp.status_code, status))
    assert seen <= {(200, "4"), (200, "trailer grpc-status:4")}, seen


def _grpc_web_call(
    sidecar: EnvoySidecar,
    token: str,
    method: str,
    message: bytes,
    protocol: str,
    extra: dict[str, str],
    tmp_path: Path,
) -> list[tuple[int, bytes]]:
    """The reply's grpc-web frames, read by curl (which fails on a cut body; and
    speaks HTTP/2 without an extra package, unlike httpx: scripts/system_deps.sh)."""
    assert shutil.which("curl"), "curl is missing: run scripts/system_deps.sh"
    request = tmp_path / "request.bin"
    request.write_bytes(grpc_web_frame(message))
    headers = {
        "content-type": "application/grpc-web+proto",
        "authorization": f"Bearer {token}",
        **extra,
    }
    cmd = ["curl", "-sS", protocol, "--cacert", str(sidecar.ca_file), "-o", "-"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd += ["--data-binary", f"@{request}", f"{sidecar.https_url}/novaos.v1.ChatService/{method}"]
    done = subprocess.run(cmd, check=False, capture_output=True, timeout=20)
    assert done.returncode == 0, f"cut with no status: {done.stderr!r}"
    return grpc_web_frames(done.stdout)
