"""RedisChannel on a real server and a real cluster: a publish reaches a subscriber."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence

import pytest

from novaos.errors import StorageUnavailableError
from novaos.storage import redis_channel
from novaos.storage.redis_channel import RedisChannel
from tests.fixtures.common import await_until
from tests.fixtures.redis_server import RedisClusterNodes, RedisServer

NAME = "audit:records:test"


async def _listening(channel: RedisChannel, until: int = 0) -> asyncio.Task[list[bytes]]:
    """A task listening on ``channel``, returned once it is subscribed (from then
    on nothing published is missed); it ends with what it heard after ``until``
    messages (0: only when the channel ends)."""
    subscribed = asyncio.Event()

    async def on_subscribed() -> None:
        subscribed.set()

    async def listen() -> list[bytes]:
        heard: list[bytes] = []
        async for message in channel.listen(on_subscribed):
            heard.append(message)
            if len(heard) == until:
                break
        return heard

    task = asyncio.create_task(listen())
    try:
        await asyncio.wait_for(subscribed.wait(), 10)
    except BaseException:
        task.cancel()
        raise
    return task


async def _round_trip(listener: RedisChannel, sender: RedisChannel) -> list[bytes]:
    task = await _listening(listener, until=3)
    for i in range(3):
        await sender.publish(b"record %d\n" % i)
    return await asyncio.wait_for(task, 10)


async def test_a_publish_reaches_a_subscriber(redis_url: str) -> None:
    channels = [
        RedisChannel.connect(NAME, url=redis_url, cluster_nodes=(), timeout_s=2.0) for _ in range(2)
    ]
    try:
        assert await _round_trip(*channels) == [b"record 0\n", b"record 1\n", b"record 2\n"]
    finally:
        for channel in channels:
            await channel.aclose()


async def test_a_publish_reaches_a_subscriber_on_a_cluster(
    redis_cluster: RedisClusterNodes,
) -> None:
    # The cluster client reads its slot map first (it raised KeyError before).
    nodes = redis_cluster.addresses
    channels = [
        RedisChannel.connect(NAME, url="", cluster_nodes=nodes, timeout_s=2.0) for _ in range(2)
    ]
    try:
        assert await _round_trip(*channels) == [b"record 0\n", b"record 1\n", b"record 2\n"]
    finally:
        for channel in channels:
            await channel.aclose()


async def test_a_lost_server_ends_listening_as_unavailable(private_redis: RedisServer) -> None:
    channel = RedisChannel.connect(NAME, url=private_redis.url, cluster_nodes=(), timeout_s=2.0)
    task = await _listening(channel)
    try:
        private_redis.kill()
        with pytest.raises(StorageUnavailableError):
            await asyncio.wait_for(task, 30)
        with pytest.raises(StorageUnavailableError):
            await channel.publish(b"x")
    finally:
        task.cancel()
        await channel.aclose()


async def test_a_stalled_server_ends_listening_as_unavailable(private_redis: RedisServer) -> None:
    # SIGSTOP: the connection stays open and nothing answers (a failover, a route
    # gone); a quiet subscription must not pass for a healthy one
    channel = RedisChannel.connect(NAME, url=private_redis.url, cluster_nodes=(), timeout_s=0.5)
    task = await _listening(channel)
    assert private_redis.proc is not None
    try:
        private_redis.proc.send_signal(signal.SIGSTOP)
        with pytest.raises(StorageUnavailableError, match="PING"):
            await asyncio.wait_for(task, 10)
    finally:
        private_redis.proc.send_signal(signal.SIGCONT)
        task.cancel()
        await channel.aclose()


async def _quiet_then_heard(
    servers: Sequence[RedisServer],
    url: str,
    nodes: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_channel, "_PING_S", 0.05)
    channels = [RedisChannel.connect(NAME, url=url, cluster_nodes=nodes, timeout_s=2.0)] * 2
    task = await _listening(channels[0], until=1)
    try:

        async def pinged() -> bool:
            return any("cmd=ping" in s.cli("client", "list") for s in servers)

        await await_until(pinged, what="the quiet subscription to PING")
        await channels[1].publish(b"still here")
        assert await asyncio.wait_for(task, 10) == [b"still here"]
    finally:
        task.cancel()
        await channels[0].aclose()


async def test_a_quiet_subscription_pings_and_keeps_listening(
    redis_server: RedisServer, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _quiet_then_heard([redis_server], redis_url, (), monkeypatch)


async def test_a_quiet_subscription_pings_and_keeps_listening_on_a_cluster(
    redis_cluster: RedisClusterNodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _quiet_then_heard(redis_cluster.nodes, "", redis_cluster.addresses, monkeypatch)
