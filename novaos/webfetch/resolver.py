"""Name resolution, done once per hop by the fetcher (never by httpx)."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from novaos.webfetch.errors import FetchAbortedError


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address ``host`` resolves to, in the resolver's order."""
        ...


class SystemResolver:
    """The system resolver (getaddrinfo) on threads of its own.

    A lookup cannot be interrupted: when the fetcher stops waiting (its DNS
    timeout), the thread keeps going until the resolver answers. On asyncio's
    shared default pool a few slow names would hold every thread, and with
    them every other ``to_thread`` user (the audit file sink). So lookups get
    a small pool of their own, and when all of its threads are still busy a
    new lookup fails at once (``dns_busy``) instead of queueing behind them.
    """

    def __init__(self, max_lookups: int = 4) -> None:
        self._max = max_lookups
        self._pool = ThreadPoolExecutor(max_workers=max_lookups, thread_name_prefix="novaos-dns")
        self._running = 0

    async def resolve(self, host: str, port: int) -> list[str]:
        if self._running >= self._max:
            raise FetchAbortedError("dns_busy")
        loop = asyncio.get_running_loop()
        self._running += 1
        lookup: Future[list[str]] = self._pool.submit(_addresses, host, port)
        # Counted until the thread is done, not until this caller gives up.
        lookup.add_done_callback(lambda _: loop.call_soon_threadsafe(self._done))
        return await asyncio.wrap_future(lookup)

    def _done(self) -> None:
        self._running -= 1


def _addresses(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
