"""Run the server the way the image does, without Docker: ``python server.py`` as uid 1000
with the image's environment (read from the Dockerfile), in a private mount namespace where
the whole root filesystem — the project tree included — is read-only and only /tmp (a
fresh directory bind-mounted there, like the emptyDir) is writable. It must serve chat
through the generated stub, gRPC health (also via the HEALTHCHECK script) and /metrics,
and exit 0 on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.common import free_port, wait_until
from tests.fixtures.deploy_assets import ROOT, alert_matchers
from tests.fixtures.image_run import (
    SERVING,
    UID,
    Confined,
    confined,
    health_status,
    image_env,
    serving,
    start_confined,
    writable_tmp,
)
from tests.fixtures.server import TEST_SECRET, bearer, mint


@dataclass
class Server:
    process: Confined
    grpc_port: int
    metrics_port: int
    tmp: Path


@pytest.fixture(params=["1", "2"], ids=["workers-1", "workers-2"])
def image_like_server(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str
) -> Iterator[Server]:
    tmp = writable_tmp(tmp_path)
    # Production refuses several workers without a shared store.
    shared = {"REDIS_URL": redis_url} if request.param != "1" else {}
    grpc_port, metrics_port = free_port(), free_port()
    env = {
        "PATH": os.environ["PATH"],
        **image_env(),
        # Deployment config (ConfigMap/Secret in production); loopback only here.
        "JWT_SECRET": TEST_SECRET,
        "GRPC_HOST": "127.0.0.1",
        "GRPC_PORT": str(grpc_port),
        "METRICS_PORT": str(metrics_port),
        "WORKERS": request.param,
        "SHUTDOWN_GRACE_S": "2",
        "PREFERRED_PROVIDER": "mock",  # the image is production: unset is refused
        "MOCK_TOKEN_DELAY_MS": "1",
        "LOG_LEVEL": "warn",
        **shared,
    }
    process = start_confined([sys.executable, "server.py"], env, tmp, tmp_path / "server.log")
    try:
        wait_until(
            lambda: process.proc.poll() is not None or serving(f"127.0.0.1:{grpc_port}"),
            timeout_s=30,
            what="the confined server to serve",
        )
        assert process.proc.poll() is None, f"server exited:\n{process.output()}"
        yield Server(process, grpc_port, metrics_port, tmp)
    finally:
        process.stop()


def test_the_sandbox_is_what_it_claims(tmp_path: Path) -> None:
    tmp = writable_tmp(tmp_path)
    probe = (
        "import os, errno\n"
        "print(os.getuid(), os.getgid())\n"
        "for path in ('server.py.new', '/tmp/written'):\n"
        "    try:\n"
        "        open(path, 'w').close(); print(path, 'ok')\n"
        "    except OSError as exc:\n"
        "        print(path, errno.errorcode[exc.errno])\n"
    )
    result = subprocess.run(
        confined([sys.executable, "-c", probe], tmp),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.split("\n")[:3] == [
        f"{UID} {UID}",
        "server.py.new EROFS",
        "/tmp/written ok",
    ]
    assert (tmp / "written").exists() and not (ROOT / "server.py.new").exists()


def _assert_confined(pid: int) -> None:
    status = Path(f"/proc/{pid}/status").read_text()
    assert re.search(rf"^Uid:\s+{UID}\s+{UID}\s+{UID}\s+{UID}$", status, re.MULTILINE)
    mounts = Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
    root_mount = next(line.split() for line in mounts if line.split()[4] == "/")
    assert "ro" in root_mount[5].split(","), root_mount


def test_serves_chat_health_and_metrics_read_only_as_uid_1000(image_like_server: Server) -> None:
    server = image_like_server
    _assert_confined(server.process.proc.pid)

    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        # grpc.health.v1, overall and per service (what the kubelet's probes ask).
        for service in ("", "novaos.v1.ChatService", "novaos.v1.HealthService"):
            assert health_status(channel, service) == SERVING, service

        # Chat through the generated stub, streamed and unary.
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        auth = bearer(mint("image-test", "pro"))
        events = list(
            stub.StreamChat(chat_pb2.StreamChatRequest(message="hello"), metadata=auth, timeout=30)
        )
        deltas = "".join(e.delta.text for e in events if e.WhichOneof("event") == "delta")
        completed = [e.completed for e in events if e.WhichOneof("event") == "completed"]
        assert len(completed) == 1 and completed[0].outcome == chat_pb2.OUTCOME_COMPLETED
        assert deltas
        reply = stub.Chat(chat_pb2.ChatRequest(message="hello"), metadata=auth, timeout=30)
        assert reply.text == deltas

    # Prometheus scrape: the calls above are counted.
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
        assert response.status == 200
        body = response.read().decode()
    samples = [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    ]
    handled = [s for s in samples if s[0] == "grpc_server_handled_total"]
    assert any(labels["grpc_method"] == "StreamChat" and value >= 1 for _, labels, value in handled)
    # The alert rules' label assumptions hold for what the server exports: the latency
    # alert's method matcher leaves out exactly the streaming RPCs, the health probes and
    # the unary Chat (whose duration is the model's whole answer).
    ((_, _, op, pattern),) = alert_matchers("NovaOSHighLatencyP95")
    assert op == "MatchOp.NotRe"
    kinds = {
        f"/{labels['grpc_service']}/{labels['grpc_method']}": labels["grpc_type"]
        for _, labels, _ in handled
    }
    methods = {labels["method"] for name, labels, _ in samples if name == "http_requests_total"}
    assert methods == set(kinds) and len(methods) >= 2
    for method in methods:
        left_out = (
            kinds[method] != "unary"
            or "Health" in method.split("/")[1]
            or method == "/novaos.v1.ChatService/Chat"
        )
        assert bool(re.fullmatch(pattern, method)) == left_out, method

    # The image's HEALTHCHECK command, run as uid 1000 from the read-only tree.
    probe = subprocess.run(
        confined(
            [
                sys.executable,
                "scripts/grpc_health_probe.py",
                "--port",
                str(server.grpc_port),
                "--service",
                "novaos.v1.HealthService",
            ],
            server.tmp,
        ),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr

    # STOPSIGNAL SIGTERM: drain, then exit 0.
    server.process.proc.send_signal(signal.SIGTERM)
    assert server.process.proc.wait(timeout=30) == 0, server.process.output()
    assert "Traceback" not in server.process.output(), server.process.output()
