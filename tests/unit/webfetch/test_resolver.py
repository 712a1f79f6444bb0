"""Slow name lookups hold only the resolver's own threads, and never queue up."""

from __future__ import annotations

import asyncio
import socket
import threading
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
