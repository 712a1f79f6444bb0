"""`make run`: the gateway and its Envoy sidecar together, on dev defaults.

Variables set in the caller's environment win over these defaults (e.g.
`JWT_SECRET=... RATE_LIMIT_FREE=3 make run`). Without JWT_SECRET a dev secret
is made and a dev token printed (and offered on the chat page). A self-signed
TLS pair is created under .dev/tls. Ctrl-C stops both processes.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from novaos.sidecar.binary import envoy_binary  # noqa: E402

DEV = ROOT / ".dev"
DEV_DEFAULTS = {
    "NODE_ENV": "development",
    "PREFERRED_PROVIDER": "mock",
    "AUDIT_STORAGE_TYPE": "file",
    "AUDIT_FILE_PATH": "var/audit",
    "GRPC_HOST": "127.0.0.1",
    "TLS_CERT_FILE": str(DEV / "tls" / "cert.pem"),
    "TLS_KEY_FILE": str(DEV / "tls" / "key.pem"),
}


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"run_dev: {' '.join(args[:3])} failed:\n{done.stderr or done.stdout}")
    return done.stdout.strip()


def prepare(env: dict[str, str]) -> str:
    """TLS pair, dev token, rendered Envoy config; returns the token."""
    if env["TLS_CERT_FILE"] == DEV_DEFAULTS["TLS_CERT_FILE"]:
        _run(["bash", str(ROOT / "scripts" / "dev_tls.sh"), str(DEV / "tls")], env)
    token_cmd = [
        sys.executable,
        "-m",
        "novaos",
        "token",
        "--sub",
        "dev",
        "--tier",
        "pro",
        "--admin",
    ]
    token = _run(token_cmd, env)
    render = [sys.executable, "envoy/render.py", "--out", str(DEV / "envoy.yaml")]
    if env["NODE_ENV"] == "development":
        render += ["--dev-token", token]
    _run(render, env)
    return token


def banner(env: dict[str, str], token: str) -> None:
    https = env.get("ENVOY_HTTPS_PORT", "8443")
    http = env.get("ENVOY_HTTP_PORT", "8080")
    grpc = env.get("GRPC_PORT", "50051")
    print(f"NovaOS dev: gateway 127.0.0.1:{grpc} (gRPC) behind Envoy")
    print(f"  chat page   https://localhost:{https}/   (self-signed: .dev/tls/cert.pem)")
    if http != "0":
        print(f"  plain HTTP  http://localhost:{http}/")
    print(f"  admin       http://127.0.0.1:{env.get('ENVOY_ADMIN_PORT', '9901')}/ (local only)")
    print(f"dev token (pro, admin):\n  export NOVAOS_TOKEN={token}")
    print(
        f"try:\n  curl --cacert .dev/tls/cert.pem -N https://localhost:{https}/api/v1/chat/stream "
        '-H "authorization: Bearer $NOVAOS_TOKEN" -d \'{"message":"hello"}\''
    )
    print(f'  .venv/bin/novaos chat "hello" --target 127.0.0.1:{grpc} --token $NOVAOS_TOKEN')
    sys.stdout.flush()


def supervise(procs: list[subprocess.Popen[bytes]]) -> int:
    """Wait until Ctrl-C/SIGTERM or either process exits, then stop both."""
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        del signum, frame
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping and all(p.poll() is None for p in procs):
        time.sleep(0.2)
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()  # the gateway drains on SIGTERM; Envoy exits
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return max((p.returncode or 0) for p in procs) if not stopping else 0


def main() -> int:
    env = {**DEV_DEFAULTS, **os.environ}
    if not env.get("JWT_SECRET"):
        env["JWT_SECRET"] = "dev-" + secrets.token_hex(24)
    token = prepare(env)
    banner(env, token)
    # Own process groups: Ctrl-C reaches us once, and we stop the children in order.
    gateway = subprocess.Popen(
        [sys.executable, "server.py"], env=env, cwd=ROOT, start_new_session=True
    )
    envoy_cmd = [str(envoy_binary()), "-c", str(DEV / "envoy.yaml"), "--disable-hot-restart"]
    envoy_cmd += ["--concurrency", "1", "--log-level", "warn"]
    envoy = subprocess.Popen(envoy_cmd, env=env, cwd=ROOT, start_new_session=True)
    return supervise([gateway, envoy])


if __name__ == "__main__":
    raise SystemExit(main())
