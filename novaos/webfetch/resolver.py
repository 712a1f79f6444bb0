"""Name resolution, done once per hop by the fetcher (never by httpx)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import Protocol

from novaos.webfetch.errors import FetchAbortedError

Loop = asyncio.AbstractEventLoop
Answer = asyncio.Future[list[str]]


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
    threads of their own, at most ``max_lookups`` at a time, and when all of
    them are still busy a new lookup fails at once (``dns_busy``) instead of
    queueing behind them.

    They are daemon threads, not a ``ThreadPoolExecutor``'s: the interpreter
    joins an executor's threads at exit, so a lookup abandoned at shutdown
    (a resolver taking 30 s to give up on a dead nameserver) held the process
    that long after "stopped". Its answer, if it comes after the event loop
    closed, is dropped.
    """

    def __init__(self, max_lookups: int = 4) -> None:
        self._max = max_lookups
        self._lock = threading.Lock()
        self._running = 0

    async def resolve(self, host: str, port: int) -> list[str]:
        with self._lock:
            if self._running >= self._max:
                raise FetchAbortedError("dns_busy")
            self._running += 1  # counted until the thread is done, not until the caller gives up
        loop = asyncio.get_running_loop()
        answer: Answer = loop.create_future()
        thread = threading.Thread(
            target=self._lookup, args=(loop, answer, host, port), name="novaos-dns", daemon=True
        )
        try:
            thread.start()
        except BaseException:
            self._release()
            raise
        return await answer

    def _lookup(self, loop: Loop, answer: Answer, host: str, port: int) -> None:
        addresses: list[str] | None = None
        error: Exception | None = None
        try:
            addresses = _addresses(host, port)
        except Exception as exc:
            error = exc
        finally:
            self._release()
        # The loop closed meanwhile (shutdown): nobody waits for this answer.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, answer, addresses, error)

    def _release(self) -> None:
        with self._lock:
            self._running -= 1


def _settle(answer: Answer, addresses: list[str] | None, error: Exception | None) -> None:
    if answer.done():  # the caller stopped waiting
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(addresses or [])


def _addresses(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
