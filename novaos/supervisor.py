"""WORKERS=N: N server processes sharing the gRPC port (SO_REUSEPORT).

The supervisor binds nothing itself but the metrics port: it starts the
workers with PROMETHEUS_MULTIPROC_DIR set so their metrics aggregate (and
NOVAOS_RUN_DIR, the same directory, where they share their circuits' state
and an audit chain found broken, so readiness is the pod's: ``novaos.pod_circuits``,
``novaos.pod_audit``; a new one at each start), serves
``/metrics`` from all of them, restarts a worker that dies (after a back-off
that doubles while it keeps dying young; counted in ``worker_restarts_total``,
as the pod's restart count never sees it), and on a stop signal (SIGTERM, SIGINT,
SIGHUP, SIGQUIT) sends SIGTERM to every worker and waits for them to drain; a
second one kills them (then removes the directory as ever). A
worker that exits with the configuration error code stops the supervisor:
restarting cannot fix it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, multiprocess, start_http_server

from novaos.config import Settings
from novaos.errors import EXIT_CONFIG, ConfigError
from novaos.lifecycle_lines import say
from novaos.observability.worker_restarts import WorkerRestarts
from novaos.pod_circuits import forget_worker
from novaos.providers.factory import check_provider_settings
from novaos.stop_signal import EXIT_INTERRUPTED, STOP_SIGNALS, StopSignal
from novaos.storage import check_store_settings

_POLL_S = 0.2
_PR_SET_PDEATHSIG = 1
_BACKOFF_FIRST_S = 0.5
_BACKOFF_MAX_S = 30.0
_STABLE_S = 60.0  # a worker up this long starts the back-off afresh if it dies
# At SIGTERM a worker still running this long after SHUTDOWN_GRACE_S is killed. Its
# drain ends about 1.5 s after the grace (the audit sink's last second, then closing
# its pool; records it has not taken are spilled by then); the rest is slack for
# Redis releases on a slow Redis. kubernetes/deployment.yaml's budget counts it.
KILL_AFTER_GRACE_S = 5.0


def serve_metrics(host: str, port: int, registry: CollectorRegistry) -> WSGIServer:
    """/metrics on ``host:port``; an address that cannot be bound is a configuration error."""
    try:
        address = host.removeprefix("[").removesuffix("]")  # METRICS_HOST=[::1], as GRPC_HOST
        server, _ = start_http_server(port, addr=address, registry=registry)
    except OSError as exc:
        # A name that does not resolve, or an address this machine does not have,
        # is the host's fault (it was blamed on METRICS_PORT); in use, the port's.
        host_fault = isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL
        name = "METRICS_HOST" if host_fault else "METRICS_PORT"
        raise ConfigError(
            f"invalid configuration: {name}: cannot listen on {host}:{port} ({exc.strerror})"
        ) from exc
    return server


def concrete_port(host: str, port: int) -> int:
    """Workers must share one port: resolve port 0 to a free one up front."""
    if port:
        return port
    host = host.strip("[]") if host not in ("", "0.0.0.0") else "127.0.0.1"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # GRPC_HOST=::1, ::
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def die_with_parent(supervisor_pid: int) -> None:
    """Called first in a worker: SIGTERM it when the supervisor dies, even by SIGKILL
    (Linux prctl); if the supervisor is already gone, stop now."""
    libc = ctypes.CDLL(None, use_errno=True)  # the process's own symbols include libc's
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor_pid:
        raise SystemExit(0)


@dataclass
class Supervisor:
    settings: Settings
    base_env: Mapping[str, str]
    metrics_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="novaos-prom-"))
    workers: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: int = 0
    stop: StopSignal = field(default_factory=StopSignal)  # cli installs it before start-up
    _stopping: threading.Event = field(default_factory=threading.Event)
    _started: dict[int, float] = field(default_factory=dict)  # monotonic start per index
    _backoff: dict[int, float] = field(default_factory=dict)  # next delay per index
    _due: dict[int, float] = field(default_factory=dict)  # when a dead one restarts
    _fatal: int | None = None
    _now: int | None = None  # a second signal's number: the workers were killed

    def _stop_now(self, signum: int) -> None:
        """A second signal (Ctrl-C again, Ctrl-\\): kill the workers rather than wait
        for their drain; the main thread then reaps them and removes the directory."""
        self._now = signum
        self._stopping.set()
        for proc in list(self.workers.values()):
            if proc.poll() is None:
                proc.kill()

    def _spawn(self, index: int, port: int) -> None:
        env = {
            **self.base_env,
            "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir,
            "GRPC_PORT": str(port),
            "NOVAOS_WORKER_INDEX": str(index),
            "WORKERS": "1",
            "NOVAOS_SUPERVISOR_PID": str(os.getpid()),
            "NOVAOS_RUN_DIR": self.metrics_dir,  # readiness: circuits, audit chain
        }
        cmd = [sys.executable, "-m", "novaos", "serve", "--worker"]
        self.workers[index] = subprocess.Popen(cmd, env=env)
        self._started[index] = time.monotonic()

    def _reap(self, port: int) -> None:
        now = time.monotonic()
        for index, proc in list(self.workers.items()):
            if self._stopping.is_set():
                return
            if index in self._due:
                if now >= self._due[index]:
                    del self._due[index]
                    self.restarts += 1
                    self._spawn(index, port)
                continue
            if proc.poll() is None:
                continue
            multiprocess.mark_process_dead(proc.pid, self.metrics_dir)  # type: ignore[no-untyped-call]
            forget_worker(self.metrics_dir, index)  # its circuits no longer keep the pod ready
            if proc.returncode == EXIT_CONFIG:
                say(
                    f"novaos: worker {index} (pid {proc.pid}) stopped on a configuration "
                    "error; stopping"
                )
                self._fatal = EXIT_CONFIG
                self._stopping.set()
                return
            delay = self._next_delay(index, now)
            say(
                f"novaos: worker {index} (pid {proc.pid}) exited {proc.returncode}; "
                f"restarting in {delay:.1f} s"
            )
            self._due[index] = now + delay

    def _next_delay(self, index: int, now: float) -> float:
        """0.5 s, doubling to 30 s while the worker keeps dying within a minute."""
        if now - self._started.get(index, now) >= _STABLE_S:
            self._backoff[index] = _BACKOFF_FIRST_S
        delay = self._backoff.get(index, _BACKOFF_FIRST_S)
        self._backoff[index] = min(delay * 2, _BACKOFF_MAX_S)
        return delay

    def run(self) -> int:
        self.stop.install()
        self.stop.stop_now = self._stop_now
        self.stop.on_signal(self._stopping.set)  # at once if one came during start-up
        try:
            check_provider_settings(self.settings)  # once here, not once per worker
            check_store_settings(self.settings)
            port = concrete_port(self.settings.grpc_host, self.settings.grpc_port)
            # The workers' collector cannot name its series in advance: without
            # this, /metrics?name[]=… (prometheus_client's filter) matched nothing
            # and answered an empty 200.
            registry = CollectorRegistry(support_collectors_without_names=True)
            multiprocess.MultiProcessCollector(registry, path=self.metrics_dir)  # type: ignore[no-untyped-call]
            registry.register(WorkerRestarts(lambda: self.restarts))  # the workers' sum lacks it
            server = serve_metrics(self.settings.metrics_host, self.settings.metrics_port, registry)
        except BaseException:
            # A configuration error before any worker ran: nothing will use the
            # directory, and a pod restarting on it would leave one per start.
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            raise
        if self._stopping.is_set():  # a signal while starting: no worker to start
            code = self._shutdown(server)
            # as a single process stopped then
            return code if self._now is not None else self.stop.startup_exit_code
        if not self.settings.shared_store:  # production refuses this (config.py)
            print(
                "novaos: warning: WORKERS>1 without REDIS_URL: limits, leases, ack nonces "
                "and conversations are per worker",
                file=sys.stderr,
                flush=True,
            )
        for index in range(self.settings.workers):
            self._spawn(index, port)
        say(
            f"novaos: supervisor: {self.settings.workers} workers; gRPC listening on "
            f"{self.settings.grpc_host}:{port}; metrics on :{server.server_port}/metrics"
        )
        while not self._stopping.wait(_POLL_S):
            self._reap(port)
        return self._shutdown(server)

    def _shutdown(self, server: object) -> int:
        for proc in list(self.workers.values()):
            if proc.poll() is None:  # one started as a second signal came is killed too
                proc.send_signal(signal.SIGKILL if self._now is not None else signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_grace_s + KILL_AFTER_GRACE_S
        codes: list[int] = []
        for index, proc in self.workers.items():
            if index in self._due:
                continue  # dead, waiting for its restart: its exit was reported then
            try:
                codes.append(proc.wait(timeout=max(deadline - time.monotonic(), 0.1)))
            except subprocess.TimeoutExpired:  # stuck past the grace: no orphan left behind
                say(f"novaos: worker {index} (pid {proc.pid}) did not drain; killed")
                proc.kill()
                codes.append(proc.wait())
        getattr(server, "shutdown", lambda: None)()
        for proc in self.workers.values():
            multiprocess.mark_process_dead(proc.pid, self.metrics_dir)  # type: ignore[no-untyped-call]
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        if self._now is not None:
            say("novaos: supervisor: second signal; workers stopped now")
        say("novaos: supervisor stopped")
        if self._now is not None:
            return 128 + self._now
        if self._fatal is not None:
            return self._fatal
        # A worker stopped during its start-up exits 0 (SIGTERM) or 130 (the SIGINT
        # a Ctrl-C sends the whole process group); one so young it had not yet taken
        # the signal over (the interpreter's own start) dies by it (a terminal's
        # SIGHUP or Ctrl-\ also reaches the whole group). All are the stop we asked
        # for, not a failure.
        stopped = (0, EXIT_INTERRUPTED, *(-sig for sig in STOP_SIGNALS))
        return 0 if all(code in stopped for code in codes) else 1
