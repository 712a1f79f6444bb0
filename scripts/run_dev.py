"""`make run`: start the gateway on embedded defaults and print how to call it.

Variables set in the caller's environment win over these dev defaults.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

DEV_DEFAULTS = {
    "NODE_ENV": "development",
    "PREFERRED_PROVIDER": "mock",
    "AUDIT_STORAGE_TYPE": "file",
    "AUDIT_FILE_PATH": "var/audit",
    "GRPC_HOST": "127.0.0.1",
}


def main() -> int:
    env = {**DEV_DEFAULTS, **os.environ}
    if not env.get("JWT_SECRET"):
        env["JWT_SECRET"] = "dev-" + secrets.token_hex(24)
    token = subprocess.run(
        [sys.executable, "-m", "novaos", "token", "--sub", "dev", "--tier", "pro", "--admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    port = env.get("GRPC_PORT", "50051")
    print(f"NovaOS dev gateway on 127.0.0.1:{port} (mock provider, in-memory store)")
    print(f"dev token (pro, admin):\n  export NOVAOS_TOKEN={token}")
    print(f'try:\n  .venv/bin/novaos chat "hello" --target 127.0.0.1:{port} --token $NOVAOS_TOKEN')
    proc = subprocess.Popen([sys.executable, "server.py"], env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()


if __name__ == "__main__":
    raise SystemExit(main())
