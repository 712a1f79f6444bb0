"""Slow name lookups hold only the resolver's own threads, and never queue up."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from novaos.webfetch.errors import FetchAbortedError
from novaos.webfetch.resolver import SystemResolver
from tests.fixtures.common import await_until


async def test_stuck_lookups_neither_starve_other_threads_nor_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real, release = socket.getaddrinfo, threading.Event()

    def getaddrinfo(host: str, *args: Any, **kw: Any) -> Any:
        if host.startswith("slow"):
            release.wait(30)  # an unresponsive authoritative server
            raise socket.gaierror("timed out")
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    resolver = SystemResolver(max_lookups=2)
    try:
        for i in range(2):  # the fetcher gives up; the lookup threads do not
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(resolver.resolve(f"slow{i}.example", 80), 0.05)
        with pytest.raises(FetchAbortedError) as busy:
            await resolver.resolve("slow2.example", 80)
        assert busy.value.reason == "dns_busy"
        # asyncio's shared pool (the audit file sink's to_thread) is untouched
        await asyncio.wait_for(asyncio.to_thread(lambda: None), 5)
    finally:
        release.set()

    async def free_again() -> bool:
        try:
            return await resolver.resolve("localhost", 80) != []
        except FetchAbortedError:
            return False

    await await_until(free_again, what="the lookup threads back")


# A process whose lookups outlive its event loop: one still stuck when the
# process ends (a dead nameserver), one that answers after the loop closed.
_SHUTDOWN_SCRIPT = textwrap.dedent(
    """
    import asyncio, socket, threading, time
    from novaos.webfetch.resolver import SystemResolver

    stuck, late = threading.Event(), threading.Event()

    def getaddrinfo(host, *args, **kw):
        (stuck if host == "stuck.example" else late).wait(600)
        raise socket.gaierror("no answer")

    socket.getaddrinfo = getaddrinfo
    resolver = SystemResolver()

    async def main():
        for host in ("stuck.example", "late.example"):
            try:
                await asyncio.wait_for(resolver.resolve(host, 80), 0.05)
            except TimeoutError:
                pass  # the fetcher's dns_timeout: it stops waiting, the thread does not

    asyncio.run(main())
    late.set()  # answers now, to a closed loop
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and resolver._running > 1:
        time.sleep(0.01)
    print("running", resolver._running, flush=True)
    """
)


def test_a_lookup_abandoned_at_shutdown_neither_holds_the_exit_nor_logs() -> None:
    # On a ThreadPoolExecutor the interpreter joined the stuck lookup at exit (a
    # 30 s dead nameserver kept the gateway alive 30 s after "stopped"), and the
    # late answer's callback raised "Event loop is closed" in the logs.
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _SHUTDOWN_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,  # the stuck lookup waits 600 s: joined, it would hit this
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the process waited for the abandoned lookup")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["running", "1"]  # the late one finished, the stuck one not
    assert "Event loop is closed" not in done.stderr
    assert "Traceback" not in done.stderr
