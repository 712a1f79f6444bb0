"""`make run` (scripts/run_dev.py): both processes up, caller env wins, Ctrl-C stops both,
the sidecar on loopback only, the page's dev token without the admin role."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jwt
import pytest
import yaml

from tests.fixtures.common import free_port, port_open, wait_until
from tests.integration.envoy.helpers import sse_events

ROOT = Path(__file__).resolve().parents[2]
CALLER_SECRET = "caller-secret-0123456789abcdefghijklmnop"


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp{,6} has them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


LOOPBACK_V4 = "0100007F"  # 127.0.0.1, little-endian as the kernel prints it


@contextlib.contextmanager
def started(
    tmp_path: Path, **extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], Path, dict[str, str]]]:
    """``run_dev.py`` on free ports, up to its dev token line: (process, log, ports)."""
    ports = {
        k: str(free_port())
        for k in (
            *("GRPC_PORT", "METRICS_PORT"),
            *("ENVOY_HTTPS_PORT", "ENVOY_HTTP_PORT", "ENVOY_ADMIN_PORT"),
        )
    }
    env = {
        **os.environ,
        **ports,
        "AUDIT_STORAGE_TYPE": "memory",
        "JWT_SECRET": CALLER_SECRET,
        **extra,
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
        yield proc, log, ports
    finally:
        # SIGTERM first: run_dev stops its children (own sessions), which a SIGKILL
        # to it alone would leave running after a failed assertion.
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


DEV_CA = ROOT / ".dev" / "tls" / "cert.pem"


def test_run_dev_starts_both_and_ctrl_c_stops_both(tmp_path: Path) -> None:
    with started(tmp_path) as (proc, log, ports):
        lines = [log.read_text()]
        token = re.search(r"NOVAOS_TOKEN=(\S+)", "".join(lines))
        assert token, "".join(lines)
        # The caller's JWT_SECRET won over the generated dev secret.
        assert jwt.decode(token.group(1), CALLER_SECRET, algorithms=["HS256"])["sub"] == "dev"
        assert f"https://localhost:{ports['ENVOY_HTTPS_PORT']}/" in "".join(lines)

        ctx = ssl.create_default_context(cafile=str(DEV_CA))
        base = f"https://localhost:{ports['ENVOY_HTTPS_PORT']}"
        # The banner comes once Envoy serves the gateway: its commands work at
        # once (they were refused "no healthy upstream" for the first seconds).
        assert httpx.get(base + "/ready", verify=ctx, timeout=5).status_code == 200
        page = httpx.get(base + "/", verify=ctx, timeout=5).text
        # The page offers a token (development default), but not the printed admin one:
        # the page reads no audit, and whoever reaches it need not hold the admin role.
        offered = re.search(r'name="novaos-dev-token" content="([^"]+)"', page)
        assert offered and offered.group(1) != token.group(1)
        claims = jwt.decode(offered.group(1), CALLER_SECRET, algorithms=["HS256"])
        assert claims["sub"] == "dev" and "admin" not in str(claims)
        assert "admin" in str(jwt.decode(token.group(1), CALLER_SECRET, algorithms=["HS256"]))
        # ... and only under a loopback name: a DNS-rebinding site that loaded it
        # under its own (resolved to 127.0.0.1) read the token and used the API.
        plain = f"http://127.0.0.1:{ports['ENVOY_HTTP_PORT']}/"
        for host in ("attacker.example", f"attacker.example:{ports['ENVOY_HTTP_PORT']}"):
            foreign = httpx.get(plain, headers={"host": host}, timeout=5)
            assert foreign.status_code == 421 and "novaos-dev-token" not in foreign.text
            assert "ENVOY_ALLOWED_HOSTS" in foreign.text  # what to set to be served
        for host in ("127.0.0.1", f"localhost:{ports['ENVOY_HTTP_PORT']}"):
            assert "novaos-dev-token" in httpx.get(plain, headers={"host": host}, timeout=5).text
        # Envoy's admin port checks no Host either: the config it dumps names the
        # page's file (owner-only), it does not hold the token.
        admin = f"http://127.0.0.1:{ports['ENVOY_ADMIN_PORT']}"
        for path in (
            *("/config_dump", "/config_dump?include_eds", "/runtime", "/stats", "/clusters"),
            *("/listeners", "/server_info", "/stats?format=json", "/clusters?format=json"),
        ):
            dumped = httpx.get(admin + path, headers={"host": "attacker.example"}, timeout=5)
            assert dumped.status_code == 200, path
            assert offered.group(1)[-24:] not in dumped.text, path
        page_file = ROOT / ".dev" / "envoy.pages" / "index.html"
        assert str(page_file) in httpx.get(admin + "/config_dump", timeout=5).text
        assert page_file.stat().st_mode & 0o777 == 0o600

        # The listeners are bound to loopback only: the page holds a usable token.
        config = yaml.safe_load((ROOT / ".dev" / "envoy.yaml").read_text())
        listeners = config["static_resources"]["listeners"]
        assert {x["address"]["socket_address"]["address"] for x in listeners} == {"127.0.0.1"}
        # /metrics too (it listened on 0.0.0.0 while the README said loopback only).
        for port in (ports["ENVOY_HTTPS_PORT"], ports["ENVOY_HTTP_PORT"], ports["METRICS_PORT"]):
            assert listening_addresses(int(port)) == {LOOPBACK_V4}, port

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=40) == 0
        for port in (ports["GRPC_PORT"], ports["ENVOY_HTTPS_PORT"], ports["ENVOY_ADMIN_PORT"]):
            assert not port_open(int(port)), port


def test_ctrl_c_lets_a_stream_through_envoy_end_in_band(tmp_path: Path) -> None:
    # Envoy was stopped with the gateway: the SSE stream was cut (curl exit 18)
    # without its terminal event, and audited as a client gone, not a shutdown.
    slow = {"SHUTDOWN_GRACE_S": "2", "MOCK_TOKEN_DELAY_MS": "100", "MOCK_RESPONSE_TOKENS": "300"}
    with started(tmp_path, **slow) as (proc, log, ports):
        token = re.search(r"NOVAOS_TOKEN=(\S+)", log.read_text())
        assert token, log.read_text()
        events: list[dict[str, Any]] = []
        signalled = False
        with httpx.stream(
            "POST",
            f"https://localhost:{ports['ENVOY_HTTPS_PORT']}/api/v1/chat/stream",
            json={"message": "a long story please"},
            headers={"authorization": f"Bearer {token.group(1)}"},
            verify=ssl.create_default_context(cafile=str(DEV_CA)),
            timeout=30,
        ) as resp:
            for event in sse_events(resp):  # a cut stream raises here
                events.append(event)
                if "delta" in event and not signalled:
                    proc.send_signal(signal.SIGINT)  # mid-answer
                    signalled = True
        assert proc.wait(timeout=40) == 0
    done = events[-1]["completed"]
    assert (done["outcome"], done["detail"]) == ("OUTCOME_CANCELLED", "server shutting down")


def children_of(pid: int) -> list[int]:
    """Its children and theirs (the gateway's workers)."""
    found = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return found + [g for c in found for g in children_of(c)]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@contextlib.contextmanager
def reaped(pids: list[int]) -> Iterator[None]:
    """Kill what is left of ``pids`` after the test (the defect leaves them running)."""
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_sighup_stops_both_children(tmp_path: Path) -> None:
    # The terminal closed: SIGHUP killed run_dev (the default action) and left the
    # gateway and Envoy running in their own sessions, holding the ports.
    with started(tmp_path) as (proc, log, _ports):
        children = children_of(proc.pid)
        assert len(children) >= 2, log.read_text()
        with reaped(children):
            proc.send_signal(signal.SIGHUP)
            proc.wait(timeout=40)
            wait_until(lambda: not any(map(alive, children)), timeout_s=10, what="children gone")


def test_a_second_ctrl_c_stops_both_at_once(tmp_path: Path) -> None:
    # The first Ctrl-C lets the gateway drain a stream for its grace (30 s here);
    # a second one was ignored until the grace (and the supervisor's 5 s) ran out.
    slow = {"SHUTDOWN_GRACE_S": "30", "MOCK_TOKEN_DELAY_MS": "200", "MOCK_RESPONSE_TOKENS": "600"}
    with started(tmp_path, **slow) as (proc, log, ports):
        token = re.search(r"NOVAOS_TOKEN=(\S+)", log.read_text())
        assert token, log.read_text()
        children = children_of(proc.pid)
        with (
            reaped(children),
            httpx.stream(
                "POST",
                f"https://localhost:{ports['ENVOY_HTTPS_PORT']}/api/v1/chat/stream",
                json={"message": "a long story please"},
                headers={"authorization": f"Bearer {token.group(1)}"},
                verify=ssl.create_default_context(cafile=str(DEV_CA)),
                timeout=60,
            ) as resp,
        ):
            lines = resp.iter_lines()
            wait_until(lambda: "delta" in next(lines), timeout_s=20, what="a delta")
            proc.send_signal(signal.SIGINT)
            wait_until(lambda: "stopping the gateway" in log.read_text(), what="the drain")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
            wait_until(lambda: not any(map(alive, children)), timeout_s=5, what="children gone")


def load_run_dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_dev", ROOT / "scripts" / "run_dev.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_dev_listens_on_loopback_unless_told_otherwise() -> None:
    run_dev = load_run_dev()
    assert run_dev.dev_env({})["ENVOY_LISTEN_HOST"] == "127.0.0.1"
    chosen = run_dev.dev_env({"ENVOY_LISTEN_HOST": "0.0.0.0"})  # e.g. to try it from a phone
    assert chosen["ENVOY_LISTEN_HOST"] == "0.0.0.0"


def test_a_host_list_the_caller_sets_keeps_the_loopback_names(tmp_path: Path) -> None:
    # The documented remote recipe replaced them: the banner's own URLs got a 421.
    with started(tmp_path, ENVOY_ALLOWED_HOSTS="devbox.lan") as (_proc, log, ports):
        banner = log.read_text()
        assert "Host devbox.lan, localhost, 127.0.0.1, [::1] only" in banner, banner
        plain = f"http://127.0.0.1:{ports['ENVOY_HTTP_PORT']}/"
        for host in ("devbox.lan", f"localhost:{ports['ENVOY_HTTP_PORT']}", "127.0.0.1"):
            assert httpx.get(plain, headers={"host": host}, timeout=5).status_code == 200, host
        assert httpx.get(plain, headers={"host": "other.lan"}, timeout=5).status_code == 421
    run_dev = load_run_dev()
    assert (
        run_dev.dev_env({"ENVOY_ALLOWED_HOSTS": "LOCALHOST, devbox.lan"})["ENVOY_ALLOWED_HOSTS"]
        == "LOCALHOST,devbox.lan,127.0.0.1,[::1]"
    )
    assert run_dev.dev_env({"ENVOY_ALLOWED_HOSTS": "*"})["ENVOY_ALLOWED_HOSTS"] == "*"


def test_a_second_ctrl_c_before_the_drain_loop_still_means_now() -> None:
    # The second Ctrl-C landed between the "stopping the gateway" line and the drain
    # loop: it was taken as the first, and the gateway got its whole grace (CI flake).
    run_dev = load_run_dev()
    saved = {signum: signal.getsignal(signum) for signum in run_dev.Stop.SIGNALS}
    try:
        # A gateway that drains for longer than the test: SIGTERM ignored (inherited).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        draining = subprocess.Popen(["sleep", "120"], start_new_session=True)
        stop = run_dev.Stop()
        stop.count = 2
        envoy = subprocess.Popen(["sleep", "120"], start_new_session=True)
        began = time.monotonic()
        run_dev.stop_in_order(draining, envoy, stop, drain_s=120)
        assert time.monotonic() - began < 60, "waited for the drain"
        assert draining.returncode == -signal.SIGKILL and envoy.poll() is not None
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def test_the_dev_secret_is_kept_owner_only_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # It lived only in the children's environment: nobody could mint a second token
    # (another user, another tier) for the running gateway, as the README shows.
    run_dev = load_run_dev()
    monkeypatch.setattr(run_dev, "DEV", tmp_path / ".dev")
    monkeypatch.setattr(run_dev, "DEV_SECRET", tmp_path / ".dev" / "jwt_secret")
    first = run_dev.dev_secret()
    assert len(first) >= 32 and run_dev.dev_secret() == first
    kept = tmp_path / ".dev" / "jwt_secret"
    assert kept.read_text().strip() == first and kept.stat().st_mode & 0o777 == 0o600
    kept.write_text("short\n")  # not a usable secret: replaced
    assert run_dev.dev_secret() not in {first, "short"}
    env = run_dev.dev_env({"JWT_SECRET": first})
    run_dev.banner(env, "tok", kept_secret=True)
    assert "JWT_SECRET=$(cat .dev/jwt_secret) .venv/bin/novaos token" in capsys.readouterr().out
