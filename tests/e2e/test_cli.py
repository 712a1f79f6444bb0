"""The `novaos` command against a real server: chat streams text and exits by outcome."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import jwt

from tests.fixtures.server import BASE_ENV, ROOT, TEST_SECRET, Subprocess, mint


def _novaos(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "novaos", *args],
        cwd=ROOT,
        env={**BASE_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_chat_streams_text_and_exits_by_outcome(spawn_server: Callable[..., Subprocess]) -> None:
    srv = spawn_server()
    target = f"127.0.0.1:{srv.port}"
    ok = _novaos("chat", "help me plan my week", "--target", target, "--token", mint())
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.split()) > 5
    assert "[shield: pass]" in ok.stderr and "[completed;" in ok.stderr
    crisis = _novaos("chat", "I want to kill myself", "--target", target, "--token", mint("bob"))
    assert crisis.returncode == 3
    assert "988" in crisis.stdout
    denied = _novaos("chat", "hello", "--target", target, "--token", "garbage")
    assert denied.returncode == 1 and "UNAUTHENTICATED" in denied.stderr


def test_token_mints_a_verifiable_dev_token() -> None:
    out = _novaos("token", "--sub", "alice", "--tier", "pro", "--admin")
    assert out.returncode == 0, out.stderr
    claims = jwt.decode(out.stdout.strip(), TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice" and claims["tier"] == "pro" and claims["roles"] == ["admin"]
    assert claims["exp"] > claims["iat"]
