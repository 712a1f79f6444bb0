"""Name resolution, done once per hop by the fetcher (never by httpx)."""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address ``host`` resolves to, in the resolver's order."""
        ...


class SystemResolver:
    """The system resolver (getaddrinfo) through the running event loop."""

    async def resolve(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))
