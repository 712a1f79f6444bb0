"""The gateway pod as kubernetes/deployment.yaml describes it, without a cluster.

The init container's command renders Envoy's config (the real envoy/render.py, with the
novaos-config + novaos-envoy ConfigMaps and the example Secret's keys it is given as its
environment), the novaos container runs ``python server.py`` and the sidecar runs
``envoy`` with the manifest's own args — each as uid 1000 with a read-only root
filesystem and only its own volumes: the gateway's /tmp for novaos, the rendered config
(writable for the init container only) and the TLS pair for the others. Then a client
reaches the gateway only through Envoy's TLS port: HTTP/JSON, SSE and native gRPC.
Paths under /etc/envoy (volumes in the pod) are mapped under /tmp.

Test-only changes to the pod's environment: loopback addresses and free ports, and the
mock provider with in-memory stores (no Redis, PostgreSQL or LLM provider runs here).
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.sidecar.drain import DRAIN_TIME_S
from tests.fixtures.common import free_port, port_open, wait_until
from tests.fixtures.deploy_assets import (
    ROOT,
    all_containers,
    example_secrets,
    find_manifest,
    pod_environment,
)
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
from tests.fixtures.server import bearer

# Pod volume mount -> where it lives inside the test's /tmp.
MOUNTS = {"/etc/envoy/rendered": "/tmp/envoy-rendered", "/etc/envoy/tls": "/tmp/envoy-tls"}


def _mapped(text: str) -> str:
    for pod_path, test_path in MOUNTS.items():
        text = text.replace(pod_path, test_path)
    return text


def _containers() -> dict[str, dict[str, Any]]:
    spec = find_manifest("Deployment", "novaos")["spec"]["template"]["spec"]
    return {c["name"]: c for c in all_containers(spec)}


def _pod_env() -> dict[str, str]:
    return {key: _mapped(value) for key, value in pod_environment().items()}


def _self_signed(tls_dir: Path) -> Path:
    tls_dir.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(tls_dir / "tls.key"), "-out", str(tls_dir / "tls.crt")],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    for name in ("tls.key", "tls.crt"):
        (tls_dir / name).chmod(0o644)  # the pod: 0440 with fsGroup 1000
    return tls_dir / "tls.crt"


@dataclass
class Pod:
    server: Confined
    envoy: Confined
    https_port: int
    ca: Path
    token: str
    admin_port: int
    env: dict[str, str]
    tmp: Path

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.https_port}{path}"


def _envoy_volumes(tmp_path: Path) -> Path:
    """The /tmp of the init container and the sidecar: only their volumes (envoy-rendered,
    envoy-tls) in a directory of root's, so they get nothing else writable, as in the pod
    (neither mounts the gateway's /tmp)."""
    volumes = tmp_path / "envoy-volumes"
    volumes.mkdir(mode=0o755)
    return volumes


def _init_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` without the Secret's keys the init container is not given."""
    given = {e["name"] for e in _containers()["envoy-config"].get("env", [])}
    withheld = set(example_secrets()) - given
    assert withheld, "the init container gets the whole Secret"
    return {key: value for key, value in env.items() if key not in withheld}


def _render(env: dict[str, str], volumes: Path) -> None:
    init = _containers()["envoy-config"]
    rendered = volumes / "envoy-rendered"
    rendered.mkdir()
    os.chown(rendered, UID, UID)  # the emptyDir, writable through fsGroup
    argv = [_mapped(arg) for arg in init["command"] + init["args"]]
    result = subprocess.run(
        confined(argv, volumes), env=_init_env(env), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    os.chown(rendered, 0, 0)  # mounted read-only in the sidecar


@pytest.fixture
def pod(tmp_path: Path, redis_url: str) -> Iterator[Pod]:
    assert (ROOT / "envoy" / "render.py").is_file(), "needs the envoy branch merged"
    tmp = writable_tmp(tmp_path)  # the gateway's
    volumes = _envoy_volumes(tmp_path)
    ca = _self_signed(volumes / "envoy-tls")
    grpc_port, https_port, admin_port = free_port(), free_port(), free_port()
    env = {
        **image_env(),
        **_pod_env(),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "GRPC_HOST": "127.0.0.1",
        "GRPC_PORT": str(grpc_port),
        "METRICS_PORT": str(free_port()),
        "ENVOY_LISTEN_HOST": "127.0.0.1",
        "ENVOY_HTTPS_PORT": str(https_port),
        "ENVOY_ADMIN_PORT": str(admin_port),
        "SHUTDOWN_GRACE_S": "2",
        "PREFERRED_PROVIDER": "mock",
        "PROVIDER_FALLBACK_ORDER": "",
        "MOCK_TOKEN_DELAY_MS": "1",
        "AUDIT_STORAGE_TYPE": "memory",
        "REDIS_URL": redis_url,  # a private server: the ConfigMap's WORKERS=2 requires one
        "DATABASE_URL": "",
        "ENABLE_WEB_FETCH": "false",
        "LOG_LEVEL": "warn",
    }
    _render(env, volumes)
    sidecar = _containers()["envoy"]
    envoy_argv = [str(Path(sys.executable).parent / "envoy")]
    envoy_argv += [_mapped(arg) for arg in sidecar["args"]]
    server = start_confined([sys.executable, "server.py"], env, tmp, tmp_path / "server.log")
    envoy = start_confined(envoy_argv, env, volumes, tmp_path / "envoy.log")
    try:
        wait_until(lambda: serving(f"127.0.0.1:{grpc_port}"), timeout_s=30, what="novaos")
        wait_until(lambda: port_open(https_port), timeout_s=30, what="envoy's TLS listener")
        token = _mint(env)
        yield Pod(server, envoy, https_port, ca, token, admin_port, env, tmp)
    finally:
        server.stop()
        envoy.stop()


def _mint(env: dict[str, str]) -> str:
    """A token from the pod's own JWT_SECRET, minted the way the docs say: `python -m novaos`."""
    result = subprocess.run(
        [sys.executable, "-m", "novaos", "token", "--sub", "pod-test", "--tier", "pro"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.strip()


def _ready_through_envoy(pod: Pod, http: httpx.Client) -> bool:
    try:
        return http.get(pod.url("/ready")).status_code == 200
    except httpx.TransportError:
        return False


def test_the_pod_serves_through_envoy_only(pod: Pod) -> None:
    for process in (pod.server, pod.envoy):
        status = Path(f"/proc/{process.proc.pid}/status").read_text()
        assert f"Uid:\t{UID}\t{UID}" in status, process.output()

    tls = ssl.create_default_context(cafile=str(pod.ca))
    with httpx.Client(verify=tls, timeout=30) as http:
        # Envoy's upstream health check has to see the gateway SERVING first.
        wait_until(lambda: _ready_through_envoy(pod, http), timeout_s=30, what="/ready")
        health = http.get(pod.url("/health"))
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert "max-age=63072000" in health.headers["strict-transport-security"]
        assert health.headers["x-content-type-options"] == "nosniff"

        auth = {"authorization": f"Bearer {pod.token}"}
        with http.stream(
            "POST", pod.url("/api/v1/chat/stream"), json={"message": "hello"}, headers=auth
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = [
                json.loads(line.removeprefix("data: "))
                for line in stream.iter_lines()
                if line.startswith("data: ")
            ]
        assert "completed" in events[-1], events[-1]

    credentials = grpc.ssl_channel_credentials(root_certificates=pod.ca.read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{pod.https_port}", credentials) as channel:
        assert health_status(channel, "novaos.v1.ChatService") == SERVING
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        request = chat_pb2.StreamChatRequest(message="hello")
        events = list(stub.StreamChat(request, metadata=bearer(pod.token), timeout=30))
        assert events[-1].completed.outcome == chat_pb2.OUTCOME_COMPLETED

    # The kubelet runs novaos's preStop first: it starts Envoy's drain (here without
    # the hold), after which Envoy stops accepting connections.
    hook = _with_value(_pre_stop(), "--admin-port", str(pod.admin_port))
    hook = _with_value(hook, "--hold-s", "0")
    done = subprocess.run(
        confined(hook, pod.tmp), env=pod.env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, "envoy drain: started"), done.stderr
    wait_until(
        lambda: not port_open(pod.https_port),
        timeout_s=DRAIN_TIME_S + 10,
        what="Envoy's listener closed by its drain",
    )
    assert pod.envoy.proc.poll() is None, pod.envoy.output()

    pod.server.proc.send_signal(signal.SIGTERM)
    assert pod.server.proc.wait(timeout=30) == 0, pod.server.output()


def _pre_stop() -> list[str]:
    command: list[str] = _containers()["novaos"]["lifecycle"]["preStop"]["exec"]["command"]
    return command


def _with_value(argv: list[str], flag: str, value: str) -> list[str]:
    i = argv.index(flag)
    return [*argv[: i + 1], value, *argv[i + 2 :]]
