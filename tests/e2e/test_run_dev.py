"""`make run` (scripts/run_dev.py): both processes up, caller env wins, Ctrl-C stops both."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import jwt

from tests.fixtures.common import free_port, port_open, wait_until

ROOT = Path(__file__).resolve().parents[2]
CALLER_SECRET = "caller-secret-0123456789abcdefghijklmnop"


def test_run_dev_starts_both_and_ctrl_c_stops_both(tmp_path: Path) -> None:
    ports = {
        k: str(free_port())
        for k in ("GRPC_PORT", "ENVOY_HTTPS_PORT", "ENVOY_HTTP_PORT", "ENVOY_ADMIN_PORT")
    }
    env = {
        **os.environ,
        **ports,
        "METRICS_PORT": "0",
        "AUDIT_STORAGE_TYPE": "memory",
        "JWT_SECRET": CALLER_SECRET,
    }
    env.pop("NODE_ENV", None)
    # A file, not a pipe: Envoy's access log would fill an unread pipe and block it.
    log = tmp_path / "run_dev.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "scripts/run_dev.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: "NOVAOS_TOKEN=" in log.read_text() or proc.poll() is not None,
            timeout_s=90,
            what="dev token line",
        )
        lines = [log.read_text()]
        token = re.search(r"NOVAOS_TOKEN=(\S+)", "".join(lines))
        assert token, "".join(lines)
        # The caller's JWT_SECRET won over the generated dev secret.
        assert jwt.decode(token.group(1), CALLER_SECRET, algorithms=["HS256"])["sub"] == "dev"
        assert f"https://localhost:{ports['ENVOY_HTTPS_PORT']}/" in "".join(lines)

        ctx = ssl.create_default_context(cafile=str(ROOT / ".dev" / "tls" / "cert.pem"))
        base = f"https://localhost:{ports['ENVOY_HTTPS_PORT']}"
        # The banner comes once Envoy serves the gateway: its commands work at
        # once (they were refused "no healthy upstream" for the first seconds).
        assert httpx.get(base + "/ready", verify=ctx, timeout=5).status_code == 200
        page = httpx.get(base + "/", verify=ctx, timeout=5).text
        assert f'name="novaos-dev-token" content="{token.group(1)}"' in page  # development default

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=40) == 0
        for port in (ports["GRPC_PORT"], ports["ENVOY_HTTPS_PORT"], ports["ENVOY_ADMIN_PORT"]):
            assert not port_open(int(port)), port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
