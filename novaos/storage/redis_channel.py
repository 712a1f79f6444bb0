"""``Broadcast`` over Redis pub/sub: one channel every worker process hears.

The channel has a client of its own, built from the store's settings (URL or
cluster nodes, credentials, TLS, timeouts): a subscription holds its
connection for good, which must not be taken from the store's bounded pool.
Pub/sub keeps nothing: a subscriber that was away misses what was published
meanwhile, so a lost connection ends ``listen`` with ``StorageUnavailableError``
and the caller decides what the missed messages cost. A server that stops
answering without closing the connection (stalled, a failover, a route gone)
looks like a quiet channel, so a quiet subscription sends PING: no answer
within the command timeout ends ``listen`` the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis.exceptions as rexc
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import parse_url

from novaos.errors import StorageUnavailableError
from novaos.storage.redis_store import (
    UNAVAILABLE,
    RedisClient,
    cluster_client,
    server_client,
    translate_errors,
)

_POLL_S = 1.0  # how long one read waits for a message (the loop then reads again)
_PING_S = 1.0  # a subscription quiet this long asks the server whether it is there


def database_number(url: str) -> int:
    """The database ``url`` selects (0 if none, or for a cluster: ``url`` empty).
    Pub/sub ignores it: a channel is heard on every database of the server, so
    whoever names a channel must tell databases apart."""
    if not url:
        return 0
    try:
        return int(parse_url(url).get("db", 0))
    except ValueError:
        return 0


class RedisChannel:
    backend = "redis"

    def __init__(self, client: RedisClient, name: str, *, timeout_s: float = 2.0) -> None:
        self._client = client
        self.name = name
        self._timeout_s = timeout_s
        self._ready_lock = asyncio.Lock()
        self._initialized = not isinstance(client, RedisCluster)

    async def _ready(self) -> None:
        """A cluster client reads the slot map once before its first command."""
        if self._initialized:
            return
        async with self._ready_lock:
            if not self._initialized:
                assert isinstance(self._client, RedisCluster)
                try:
                    await self._client.initialize()
                except rexc.RedisClusterException as exc:  # no startup node answers
                    raise StorageUnavailableError(
                        f"{self.backend} unavailable: {type(exc).__name__}"
                    ) from exc
                self._initialized = True

    @classmethod
    def connect(
        cls, name: str, *, url: str, cluster_nodes: tuple[str, ...], timeout_s: float
    ) -> RedisChannel:
        """A cluster client if ``cluster_nodes`` (a publish reaches every node's
        subscribers), else one for ``url``."""
        if cluster_nodes:
            client = cluster_client(cluster_nodes, pool_size=4, timeout_s=timeout_s, url=url)
            return cls(client, name, timeout_s=timeout_s)
        return cls(server_client(url, timeout_s=timeout_s), name, timeout_s=timeout_s)

    async def publish(self, message: bytes) -> None:
        async with translate_errors(self.backend):
            await self._ready()
            await self._client.publish(self.name, message)

    async def listen(self, subscribed: Callable[[], Awaitable[None]]) -> AsyncIterator[bytes]:
        async with translate_errors(self.backend):
            await self._ready()
        pubsub: Any = self._client.pubsub()
        try:
            async with translate_errors(self.backend):
                await pubsub.subscribe(self.name)
                # The confirmation: from here on every publish reaches us.
                while (await pubsub.get_message(timeout=_POLL_S)) is None:
                    pass
            await subscribed()
            clock = asyncio.get_running_loop().time
            heard_at, pinged_at = clock(), None
            while True:
                async with translate_errors(self.backend):
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=_POLL_S
                    )
                now = clock()
                if message is not None:  # a message or a PONG: the server is there
                    heard_at, pinged_at = now, None
                    if message.get("type") == "message":
                        yield bytes(message["data"])
                elif pinged_at is not None and now - pinged_at > self._timeout_s:
                    raise StorageUnavailableError(
                        f"{self.backend} unavailable: no answer to PING in {self._timeout_s:g} s"
                    )
                elif pinged_at is None and now - heard_at >= _PING_S:
                    async with translate_errors(self.backend):
                        await pubsub.ping()
                    pinged_at = now
        finally:
            with contextlib.suppress(*UNAVAILABLE):  # closing a connection already lost
                await pubsub.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
