"""A grpc-web stream that has begun, at its caller's ``grpc-timeout`` or at the
sidecar's own limit (``ENVOY_STREAM_TIMEOUT_MS``).

Envoy arms a timer from the shorter of the two and, once the reply has begun, can
only reset the stream when it fires (envoyproxy/envoy#13925): over HTTP/1.1 the
connection was cut (curl exit 18), over HTTP/2 the stream reset (exit 92), with
no status either way. The gateway ends the stream itself before that timer fires.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.common import wait_until
from tests.fixtures.envoy import EnvoySidecar, Upstream, run_sidecar
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
    """curl, not httpx: it speaks HTTP/2 without an extra package (scripts/system_deps.sh)."""
    assert shutil.which("curl"), "curl is missing: run scripts/system_deps.sh"
    request = tmp_path / "request.bin"
    request.write_bytes(
        grpc_web_frame(chat_pb2.StreamChatRequest(message="plan my week").SerializeToString())
    )
    headers = {
        "content-type": "application/grpc-web+proto",
        "authorization": f"Bearer {token}",
        **extra,
    }
    cmd = ["curl", "-sS", protocol, "--cacert", str(sidecar.ca_file), "-o", "-"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd += ["--data-binary", f"@{request}"]
    cmd += [sidecar.https_url + "/novaos.v1.ChatService/StreamChat"]
    done = subprocess.run(cmd, check=False, capture_output=True, timeout=20)
    assert done.returncode == 0, f"cut with no status: {done.stderr!r}"
    return grpc_web_frames(done.stdout)


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
