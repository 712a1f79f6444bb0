"""A Redis that answers but refuses writes is a Redis failure: memory serves.

Under ``maxmemory-policy noeviction`` a full Redis refuses writes (OOM); after a
failover the old address may be a read-only replica (READONLY); a failed RDB
save (MISCONF) or too few replicas (NOREPLICAS) refuse them as well, and a script
running too long (BUSY) refuses every command. Each used
to reach the caller as an unexpected error (INTERNAL), with no fallback and no
alert.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from novaos.errors import StorageUnavailableError
from novaos.ports import PushOp, SetOp
from novaos.storage import FailoverStore, RedisStore
from tests.fixtures.common import await_until, free_port, holds, wait_until
from tests.fixtures.redis_server import REDIS_CLI, RedisServer


class Gauge:
    def __init__(self) -> None:
        self.states: list[bool] = []

    def fallback_active(self, active: bool) -> None:
        self.states.append(active)


def _full(server: RedisServer) -> Callable[[], object]:
    server.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
    server.cli("CONFIG", "SET", "maxmemory", "1")
    return lambda: server.cli("CONFIG", "SET", "maxmemory", "0")


def _replica(server: RedisServer) -> Callable[[], object]:
    server.cli("REPLICAOF", "127.0.0.1", str(free_port()))  # a master that is gone
    return lambda: server.cli("REPLICAOF", "NO", "ONE")


def _too_few_replicas(server: RedisServer) -> Callable[[], object]:
    server.cli("CONFIG", "SET", "min-replicas-to-write", "1")
    return lambda: server.cli("CONFIG", "SET", "min-replicas-to-write", "0")


def _cannot_persist(server: RedisServer) -> Callable[[], object]:
    (server.workdir / "rdb").rmdir()  # the next snapshot fails
    server.cli("CONFIG", "SET", "save", "900 1")
    server.cli("BGSAVE")
    wait_until(
        lambda: "rdb_last_bgsave_status:err" in server.cli("INFO", "persistence"),
        what="a failed snapshot",
    )
    return lambda: server.cli("CONFIG", "SET", "save", "")


@pytest.mark.parametrize(
    "refuse", [_full, _replica, _too_few_replicas, _cannot_persist], ids=lambda f: f.__name__
)
async def test_a_redis_refusing_writes_is_served_from_memory_until_it_takes_them(
    tmp_path: Path, refuse: Callable[[RedisServer], Callable[[], object]]
) -> None:
    (tmp_path / "redis" / "rdb").mkdir(parents=True)
    server = RedisServer(tmp_path / "redis", extra_args=("--dir", str(tmp_path / "redis" / "rdb")))
    server.start()
    gauge = Gauge()
    primary = RedisStore.from_url(server.url, pool_size=4, timeout_s=1)
    store = FailoverStore(primary, min_backoff_s=0.02, max_backoff_s=0.05, observer=gauge)
    try:
        await store.connect()
        assert await store.incr("before", ttl_ms=60_000) == 1
        server.cli("CONFIG", "RESETSTAT")
        undo = refuse(server)
        with pytest.raises(StorageUnavailableError):
            await primary.set("k", b"v")
        # A conversation's write is a MULTI/EXEC, whose errors redis-py words its own way.
        ops = [SetOp("k", b"v", 60_000), PushOp("l", (b"t",), 10, 60_000)]
        assert await store.batch(ops) == [True, None]  # no error: memory took it
        assert not store.primary_available and gauge.states == [True]
        assert await store.get("k") == b"v"
        # A PING is answered all along: the switch back waits for a write to go through,
        # or it would flap back and forth (and the gauge with it) while Redis refuses.
        await await_until(
            lambda: holds(server.rejected_calls("set") >= 4), what="probes refused by Redis"
        )
        assert not store.primary_available and gauge.states == [True]
        undo()
        await await_until(lambda: _on_primary(store), what="the switch back")
        assert gauge.states == [True, False]
        assert await store.incr("before", ttl_ms=60_000) == 2  # Redis's counter again
    finally:
        await store.aclose()
        server.kill()


async def _on_primary(store: FailoverStore) -> bool:
    return store.primary_available


async def test_a_redis_busy_running_a_script_is_served_from_memory_until_it_answers(
    tmp_path: Path,
) -> None:
    # A script (another tenant's, an operator's) running past busy-reply-threshold
    # makes Redis answer every command with BUSY, which reached callers as INTERNAL.
    server = RedisServer(tmp_path / "redis")
    server.start()
    server.cli("CONFIG", "SET", "busy-reply-threshold", "50")
    primary = RedisStore.from_url(server.url, pool_size=4, timeout_s=1)
    store = FailoverStore(primary, min_backoff_s=0.02, max_backoff_s=0.05)
    script = None
    try:
        await store.connect()
        assert await store.incr("before", ttl_ms=60_000) == 1
        script = _endless_script(server)
        wait_until(lambda: "BUSY" in _ping(server), what="Redis busy with the script")
        with pytest.raises(StorageUnavailableError, match="BUSY"):
            await primary.get("k")
        ops = [SetOp("k", b"v", 60_000), PushOp("l", (b"t",), 10, 60_000)]
        assert await store.batch(ops) == [True, None]  # memory took it
        assert not store.primary_available
        assert await store.get("k") == b"v"
        server.cli("SCRIPT", "KILL")
        await await_until(lambda: _on_primary(store), what="the switch back")
        assert await store.incr("before", ttl_ms=60_000) == 2  # Redis's counter again
    finally:
        await store.aclose()
        server.kill()  # first: a server still running the script outlives the test
        if script is not None:
            script.kill()
            script.wait(timeout=10)


def _endless_script(server: RedisServer) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [REDIS_CLI, "-p", str(server.port), "EVAL", "while true do end", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _ping(server: RedisServer) -> str:
    command = [REDIS_CLI, "-p", str(server.port), "PING"]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=10).stdout
