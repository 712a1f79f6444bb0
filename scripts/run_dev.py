"""`make run`: the gateway and its Envoy sidecar together, on dev defaults.

Variables set in the caller's environment win over these defaults (e.g.
`JWT_SECRET=... RATE_LIMIT_FREE=3 make run`). Without JWT_SECRET a dev secret is
made once and kept in .dev/jwt_secret (tokens outlive a restart, and `novaos token`
can mint more with it), and a dev token printed (with the admin role, for `novaos
audit`); the chat page offers one without it. The sidecar listens on 127.0.0.1 only
and answers only the loopback Host names: the page hands its token to whoever loads
it (set ENVOY_LISTEN_HOST=0.0.0.0 and ENVOY_ALLOWED_HOSTS=<this machine's name> to
reach it from another machine; the loopback names are added to the list). A
self-signed TLS pair is created under .dev/tls. Ctrl-C (or SIGTERM, SIGHUP,
Ctrl-\\) stops both processes in the pod's order: Envoy's drain starts (a GOAWAY
with each connection's next answer), then the gateway drains (open streams end
with their terminal event, through Envoy), then Envoy stops; Ctrl-C again during
the drain stops both at once.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from novaos.config import Settings  # noqa: E402
from novaos.sidecar.binary import envoy_binary  # noqa: E402
from novaos.sidecar.drain import DRAIN_ARGS, start_drain  # noqa: E402
from novaos.supervisor import KILL_AFTER_GRACE_S  # noqa: E402

DEV = ROOT / ".dev"
DEV_SECRET = DEV / "jwt_secret"
DEV_DEFAULTS = {
    "NODE_ENV": "development",
    "PREFERRED_PROVIDER": "mock",
    "AUDIT_STORAGE_TYPE": "file",
    "AUDIT_FILE_PATH": "var/audit",
    "GRPC_HOST": "127.0.0.1",
    "METRICS_HOST": "127.0.0.1",
    # Not the production default (0.0.0.0, for the pod's sidecar): the page embeds
    # a dev token, which anyone who can reach the listeners could take.
    "ENVOY_LISTEN_HOST": "127.0.0.1",
    # ... and any page at all could, loaded from the sidecar under a name of its own
    # that resolves to 127.0.0.1 (DNS rebinding), were any Host answered.
    "ENVOY_ALLOWED_HOSTS": "localhost,127.0.0.1,[::1]",
    "TLS_CERT_FILE": str(DEV / "tls" / "cert.pem"),
    "TLS_KEY_FILE": str(DEV / "tls" / "key.pem"),
}


def dev_secret() -> str:
    """The dev JWT secret: the one kept in .dev/jwt_secret, else a new one kept there
    (owner-only: it mints admin tokens)."""
    with contextlib.suppress(FileNotFoundError):
        kept = DEV_SECRET.read_text().strip()
        if len(kept) >= 32:
            return kept
    secret = "dev-" + secrets.token_hex(24)
    DEV.mkdir(exist_ok=True)
    DEV_SECRET.unlink(missing_ok=True)  # a new file gets the mode below; an old one keeps its own
    fd = os.open(DEV_SECRET, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"run_dev: {' '.join(args[:3])} failed:\n{done.stderr or done.stdout}")
    return done.stdout.strip()


LOOPBACK_HOSTS = DEV_DEFAULTS["ENVOY_ALLOWED_HOSTS"].split(",")


def dev_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The dev defaults, overridden by what the caller set; a host list the caller
    sets (ENVOY_ALLOWED_HOSTS=devbox.lan) keeps the loopback names, which the
    banner's own URLs use (they got a 421). ``*`` stays alone: the renderer
    refuses to embed the page's token under it."""
    env = {**DEV_DEFAULTS, **environ}
    listed = [h.strip() for h in env["ENVOY_ALLOWED_HOSTS"].split(",") if h.strip()]
    if "*" not in listed:
        lower = {h.lower() for h in listed}
        listed += [h for h in LOOPBACK_HOSTS if h not in lower]
        env["ENVOY_ALLOWED_HOSTS"] = ",".join(listed)
    return env


def mint(env: dict[str, str], *, admin: bool) -> str:
    token_cmd = [sys.executable, "-m", "novaos", "token", "--sub", "dev", "--tier", "pro"]
    return _run(token_cmd + (["--admin"] if admin else []), env)


def prepare(env: dict[str, str]) -> str:
    """TLS pair, dev tokens, rendered Envoy config; returns the admin token to print.

    The page gets its own token without the admin role: it reads no audit, and
    it gives its token to whoever loads it."""
    if env["TLS_CERT_FILE"] == DEV_DEFAULTS["TLS_CERT_FILE"]:
        _run(["bash", str(ROOT / "scripts" / "dev_tls.sh"), str(DEV / "tls")], env)
    token = mint(env, admin=True)
    render = [sys.executable, "envoy/render.py", "--out", str(DEV / "envoy.yaml")]
    if env["NODE_ENV"] == "development":
        render += ["--dev-token", mint(env, admin=False)]
    _run(render, env)
    return token


def banner(env: dict[str, str], token: str, *, kept_secret: bool) -> None:
    https = env.get("ENVOY_HTTPS_PORT", "8443")
    http = env.get("ENVOY_HTTP_PORT", "8080")
    grpc = env.get("GRPC_PORT", "50051")
    listen = env["ENVOY_LISTEN_HOST"]
    where = "this machine only" if listen == "127.0.0.1" else "reachable from the network"
    print(f"NovaOS dev: gateway 127.0.0.1:{grpc} (gRPC) behind Envoy on {listen} ({where})")
    print(f"  chat page   https://localhost:{https}/   (self-signed: .dev/tls/cert.pem)")
    hosts = env["ENVOY_ALLOWED_HOSTS"].replace(",", ", ")
    print(f"  answers     Host {hosts} only; others get 421 (ENVOY_ALLOWED_HOSTS)")
    if http != "0":
        print(f"  plain HTTP  http://localhost:{http}/")
    print(f"  admin       http://127.0.0.1:{env.get('ENVOY_ADMIN_PORT', '9901')}/ (local only)")
    print(f"dev token (pro, admin):\n  export NOVAOS_TOKEN={token}")
    if kept_secret:
        print("mint others:\n  JWT_SECRET=$(cat .dev/jwt_secret) .venv/bin/novaos token --sub bob")
    print(
        f"try:\n  curl --cacert .dev/tls/cert.pem -N https://localhost:{https}/api/v1/chat/stream "
        '-H "authorization: Bearer $NOVAOS_TOKEN" -d \'{"message":"hello"}\''
    )
    print(f'  .venv/bin/novaos chat "hello" --target 127.0.0.1:{grpc} --token $NOVAOS_TOKEN')
    sys.stdout.flush()


class Stop:
    """Ctrl-C, SIGTERM, SIGHUP (the terminal closed) or Ctrl-\\ asked us to stop
    (handled from before the children start: they run in their own sessions, so
    none of these reaches them, and our default death would leave them running)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)

    def __init__(self) -> None:
        self.count = 0
        for signum in self.SIGNALS:
            signal.signal(signum, self._handle)

    @property
    def requested(self) -> bool:
        return self.count > 0

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        del signum, frame
        self.count += 1


def running(procs: list[subprocess.Popen[bytes]], stop: Stop) -> bool:
    return not stop.requested and all(p.poll() is None for p in procs)


def wait_until_served(
    env: dict[str, str], procs: list[subprocess.Popen[bytes]], stop: Stop
) -> bool:
    """Until Envoy has found the gateway healthy (its admin ``/clusters``), so the
    banner's commands work when it is shown; False after 60 s, on a stop, or if
    either process exited. Envoy checks its upstream every few seconds and
    refuses requests until the first check passes."""
    url = f"http://127.0.0.1:{env.get('ENVOY_ADMIN_PORT', '9901')}/clusters"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and running(procs, stop):
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                text = reply.read().decode()
        except OSError:
            text = ""
        if "novaos_grpc::" in text and "::health_flags::healthy" in text:
            return True
        time.sleep(0.2)
    return False


def gateway_drain_s(env: Mapping[str, str]) -> float:
    """How long the gateway may take to drain: its grace, then the supervisor's
    backstop (the longest a worker of ``WORKERS>1`` is given), and 1 s for the
    supervisor to reap its killed worker and exit."""
    default: float = Settings.model_fields["shutdown_grace_s"].default
    try:
        grace = float(env.get("SHUTDOWN_GRACE_S", default))
    except ValueError:
        grace = default  # the gateway refuses it at start: there is nothing to drain
    return (grace if math.isfinite(grace) else default) + KILL_AFTER_GRACE_S + 1.0


def terminate(proc: subprocess.Popen[bytes], within_s: float) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=within_s)
    except subprocess.TimeoutExpired:
        kill(proc)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL its whole process group (its own session): the gateway's workers too,
    which would otherwise drain on their own for the grace."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def stop_in_order(
    gateway: subprocess.Popen[bytes],
    envoy: subprocess.Popen[bytes],
    stop: Stop,
    *,
    drain_s: float,
    envoy_admin_port: int | None = None,
) -> None:
    """Start Envoy's drain (as the pod's preStop does), SIGTERM the gateway (it
    drains, its streams end through Envoy) and wait for it, then stop Envoy
    (nothing left to proxy: it exits at once). Asked to stop again meanwhile
    (Ctrl-C twice), or past ``drain_s``: Envoy gets SIGTERM at once and the
    gateway SIGKILL."""
    if gateway.poll() is None:
        if envoy_admin_port is not None and envoy.poll() is None:
            start_drain(envoy_admin_port)  # best effort: the stop goes on either way
        gateway.terminate()
    # The stop itself was the first signal (none if a child exited on its own): a
    # further one, even one that came before this line, means now.
    asked = min(stop.count, 1)
    deadline = time.monotonic() + drain_s
    while gateway.poll() is None and stop.count == asked and time.monotonic() < deadline:
        time.sleep(0.05)  # signals are handled between sleeps, unlike in one long wait
    if gateway.poll() is None:
        envoy.terminate()
        kill(gateway)
    terminate(envoy, 10)


def supervise(
    gateway: subprocess.Popen[bytes],
    envoy: subprocess.Popen[bytes],
    stop: Stop,
    *,
    drain_s: float,
    envoy_admin_port: int | None = None,
) -> int:
    """Wait until Ctrl-C/SIGTERM or either process exits, then stop both: the
    gateway first, then Envoy once it is gone, as the kubelet stops the pod's
    sidecar. Stopped together, Envoy cut the SSE streams the gateway was ending
    in-band (no terminal event; audited as a client gone)."""
    procs = [gateway, envoy]
    while running(procs, stop):
        time.sleep(0.2)
    if gateway.poll() is None:
        print("novaos dev: stopping the gateway (it drains), then Envoy; Ctrl-C again: now",
              flush=True)  # fmt: skip
    stop_in_order(gateway, envoy, stop, drain_s=drain_s, envoy_admin_port=envoy_admin_port)
    return max((p.returncode or 0) for p in procs) if not stop.requested else 0


def main() -> int:
    env = dev_env(os.environ)
    kept_secret = not env.get("JWT_SECRET")
    if kept_secret:
        env["JWT_SECRET"] = dev_secret()
    token = prepare(env)
    stop = Stop()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # Own sessions: Ctrl-C reaches us once, and we stop the children in order.
        gateway = subprocess.Popen(
            [sys.executable, "server.py"], env=env, cwd=ROOT, start_new_session=True
        )
        procs.append(gateway)
        envoy_cmd = [str(envoy_binary()), "-c", str(DEV / "envoy.yaml"), "--disable-hot-restart"]
        envoy_cmd += ["--concurrency", "1", *DRAIN_ARGS, "--log-level", "warn"]
        envoy = subprocess.Popen(envoy_cmd, env=env, cwd=ROOT, start_new_session=True)
        procs.append(envoy)
        if wait_until_served(env, procs, stop):
            banner(env, token, kept_secret=kept_secret)
        elif running(procs, stop):
            print("novaos dev: Envoy has not seen the gateway healthy yet", file=sys.stderr)
            banner(env, token, kept_secret=kept_secret)
        admin_port = int(env.get("ENVOY_ADMIN_PORT", "9901"))
        return supervise(
            gateway, envoy, stop, drain_s=gateway_drain_s(env), envoy_admin_port=admin_port
        )
    finally:
        # Whatever went wrong on the way (no Envoy binary, a print to a closed
        # terminal), no child outlives us: in their own sessions, nothing else stops them.
        for proc in reversed(procs):
            terminate(proc, 5)


if __name__ == "__main__":
    raise SystemExit(main())
