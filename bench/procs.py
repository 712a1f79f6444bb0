"""The processes under test: mock upstream, bare Envoy, NovaOS (+ its sidecar), LiteLLM.

Every server is pinned to the server cores (the load generator has its own)
and started with loopback-only listeners on free ports. Readiness is polled
with a deadline; a process that exits early fails the run with its log tail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from novaos.sidecar.binary import envoy_binary

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bench-model"
LITELLM_VENV = ROOT / "bench" / ".venv-litellm"
LITELLM_KEY = "sk-bench-master-key"  # LiteLLM refuses to start without one


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Proc:
    name: str
    cmd: list[str]
    log: Path
    env: Mapping[str, str] | None = None
    cpus: frozenset[int] = frozenset()
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Proc:
        # taskset pins before exec, so every thread the server starts inherits it.
        pin = ["taskset", "-c", ",".join(map(str, sorted(self.cpus)))] if self.cpus else []
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [*pin, *self.cmd],
                cwd=ROOT,
                env=dict(self.env) if self.env is not None else None,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_for(self, ready: Callable[[], bool], timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.tail()}")
            if ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready in {timeout_s} s: {self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-1500:] if self.log.exists() else ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def upstream(work: Path, cpus: frozenset[int], pace: Mapping[str, float]) -> tuple[Proc, int]:
    port = free_port()
    args = [f"--{k.replace('_', '-')}={v}" for k, v in pace.items()]
    cmd = [sys.executable, "-m", "bench.upstream", "--port", str(port), *args]
    proc = Proc("upstream", cmd, work / "upstream.log", cpus=cpus).start()
    proc.wait_for(lambda: port_open(port))
    return proc, port


def _admin_live(admin: int) -> Callable[[], bool]:
    def live() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{admin}/ready", timeout=1).text.strip() == "LIVE"
        except httpx.TransportError:
            return False

    return live


def _envoy_cmd(config: Path) -> list[str]:
    return [
        str(envoy_binary()),
        "-c",
        str(config),
        "--disable-hot-restart",
        "--concurrency",
        "1",
        "--log-level",
        "warn",
    ]


def bare_envoy(work: Path, cpus: frozenset[int], upstream_port: int) -> tuple[Proc, int]:
    """A plain HTTP proxy hop: the floor any Envoy-fronted gateway pays."""
    port, admin = free_port(), free_port()
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network."
        "http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "bench",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {"prefix": "/"},
                            "route": {"cluster": "upstream", "timeout": "0s"},
                        }
                    ],
                }
            ]
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                },
            }
        ],
    }
    address = {"socket_address": {"address": "127.0.0.1", "port_value": upstream_port}}
    config = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "bench",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                    "filter_chains": [{"filters": [{"name": "hcm", "typed_config": hcm}]}],
                }
            ],
            "clusters": [
                {
                    "name": "upstream",
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "load_assignment": {
                        "cluster_name": "upstream",
                        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
                    },
                }
            ],
        },
    }
    path = work / "bare-envoy.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = Proc("bare-envoy", _envoy_cmd(path), work / "bare-envoy.log", cpus=cpus).start()
    proc.wait_for(_admin_live(admin))
    return proc, port


def novaos_env(upstream_port: int, grpc_port: int, workers: int) -> dict[str, str]:
    limits = {
        f"{kind}_LIMIT_{tier}": "100000000"
        for kind in ("RATE", "TOKEN", "CONCURRENCY")
        for tier in ("FREE", "PRO", "ENTERPRISE")
    }
    return {
        "PATH": os.environ.get("PATH", ""),
        "NODE_ENV": "test",
        "REQUIRE_AUTH": "false",
        "GRPC_HOST": "127.0.0.1",
        "GRPC_PORT": str(grpc_port),
        "METRICS_PORT": "0",
        "WORKERS": str(workers),
        "PREFERRED_PROVIDER": "openai_compat",
        "OPENAI_COMPAT_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "OPENAI_COMPAT_MODEL": MODEL,
        "AUDIT_STORAGE_TYPE": "memory",
        "LOG_LEVEL": "warn",
        **limits,
    }


def novaos(
    work: Path,
    cpus: frozenset[int],
    upstream_port: int,
    workers: int,
    profile: bool = False,
    extra_env: Mapping[str, str] | None = None,
) -> tuple[Proc, int]:
    port = free_port()
    cmd = [sys.executable, "server.py"]
    if profile:  # text profile written when the server drains on SIGTERM
        out = work / "profile.txt"
        cmd = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(out), "server.py"]
    env = novaos_env(upstream_port, port, workers) | dict(extra_env or {})
    proc = Proc(f"novaos-w{workers}", cmd, work / f"novaos-w{workers}.log", env, cpus).start()
    proc.wait_for(lambda: port_open(port), timeout_s=60)
    return proc, port


def redis_server(work: Path, cpus: frozenset[int], *, port: int = 0) -> tuple[Proc, int]:
    """A private redis-server (no persistence) for runs that use ``REDIS_URL``;
    on ``port``, or a free one."""
    port = port or free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    proc = Proc("redis", [*cmd, "--dir", str(work)], work / "redis.log", cpus=cpus).start()
    proc.wait_for(lambda: port_open(port), timeout_s=20)
    return proc, port


def sidecar(work: Path, cpus: frozenset[int], grpc_port: int) -> tuple[Proc, int]:
    """The real sidecar config, rendered by envoy/render.py as `make run` does."""
    tls = work / "tls"
    subprocess.run(
        [str(ROOT / "scripts" / "dev_tls.sh"), str(tls)], check=True, capture_output=True
    )
    http, https, admin = free_port(), free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "NODE_ENV": "test",
        "REQUIRE_AUTH": "false",
        "ALLOWED_ORIGINS": "https://app.example.com",
        "TLS_CERT_FILE": str(tls / "cert.pem"),
        "TLS_KEY_FILE": str(tls / "key.pem"),
        "ENVOY_LISTEN_HOST": "127.0.0.1",
        "ENVOY_HTTPS_PORT": str(https),
        "ENVOY_HTTP_PORT": str(http),
        "ENVOY_ADMIN_PORT": str(admin),
        "ENVOY_UPSTREAM_HOST": "127.0.0.1",
        "ENVOY_UPSTREAM_PORT": str(grpc_port),
    }
    config = work / "sidecar.yaml"
    render = [sys.executable, str(ROOT / "envoy" / "render.py"), "--out", str(config)]
    subprocess.run(render, check=True, env=env, cwd=ROOT)
    proc = Proc("sidecar", _envoy_cmd(config), work / "sidecar.log", cpus=cpus).start()
    proc.wait_for(_admin_live(admin))
    return proc, http


def litellm_python() -> tuple[Path | None, str]:
    """The LiteLLM venv's python, installing it once (cached); or why not."""
    python = LITELLM_VENV / "bin" / "python"
    if (LITELLM_VENV / ".installed").exists():
        return python, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "litellm[proxy]"]
        subprocess.run(pip, check=True, timeout=900, capture_output=True)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"LiteLLM install failed: {str(exc)[:200]}"
    (LITELLM_VENV / ".installed").touch()
    return python, ""


def litellm(work: Path, cpus: frozenset[int], python: Path, upstream_port: int) -> tuple[Proc, int]:
    port = free_port()
    params = {
        "model": f"openai/{MODEL}",
        "api_base": f"http://127.0.0.1:{upstream_port}/v1",
        "api_key": "sk-bench",
    }
    config = {
        "model_list": [{"model_name": MODEL, "litellm_params": params}],
        "litellm_settings": {"telemetry": False},
        "general_settings": {"master_key": LITELLM_KEY},
    }
    path = work / "litellm.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch from the internet at start
        "LITELLM_LOG": "ERROR",
        "DISABLE_SCHEMA_UPDATE": "True",
    }
    cmd = [
        str(python.parent / "litellm"),
        "--config",
        str(path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
        "--telemetry",
        "False",
    ]
    proc = Proc("litellm", cmd, work / "litellm.log", env, cpus).start()
    proc.wait_for(lambda: _http_ok(f"http://127.0.0.1:{port}/health/liveliness"), timeout_s=90)
    return proc, port


def litellm_version(python: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('litellm'))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def rss_kb(pid: int) -> int:
    """RSS of a process and its children (the WORKERS supervisor forks), from /proc."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process and its children have used, from /proc."""
    ticks = 0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in map(int, kids):
            found += [kid, *_children(kid)]
    return found
