"""Redis Cluster takes REDIS_URL's credentials; an unreachable cluster falls back to
memory like a single server does (it crashed start-up), and one that refuses the
password stops start-up with one line, as a single server does. So does a node that is
a standalone Redis: it never becomes a cluster, so it is not waited out on memory."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest

from novaos.config import Settings
from novaos.errors import ConfigError
from novaos.storage import FailoverStore, build_store
from tests.fixtures.common import free_port, wait_until
from tests.fixtures.redis_server import REDIS_CLI, RedisServer

PASSWORD = "s3cret/pw"  # a "/" must survive the URL (percent-encoded there)


@pytest.fixture(scope="module")
def password_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A one-node Redis Cluster holding every slot, behind a password."""
    extra = (
        "--cluster-enabled", "yes",
        "--cluster-config-file", "nodes.conf",
        "--cluster-port", str(free_port()),
        "--requirepass", PASSWORD,
        "--masterauth", PASSWORD,
    )  # fmt: skip
    node = RedisServer(tmp_path_factory.mktemp("cluster") / "node", extra_args=extra)
    node.start()
    try:
        cli = [REDIS_CLI, "-p", str(node.port), "--no-auth-warning", "-a", PASSWORD]
        subprocess.run(
            [*cli, "cluster", "addslotsrange", "0", "16383"], check=True, capture_output=True
        )
        wait_until(lambda: "cluster_state:ok" in _cli(cli, "cluster", "info"), timeout_s=30)
        yield node
    finally:
        node.kill()


def _cli(cli: list[str], *args: str) -> str:
    return subprocess.run([*cli, *args], check=True, capture_output=True, text=True).stdout


def _settings(nodes: str, url: str) -> Settings:
    return Settings(
        redis_cluster_nodes=nodes,  # type: ignore[arg-type]
        redis_url=url,
        require_auth=False,
        redis_command_timeout_ms=500,
        redis_reconnect_min_backoff_ms=50,
        redis_reconnect_max_backoff_ms=200,
    )


@pytest.fixture
async def stores() -> AsyncIterator[list[FailoverStore]]:
    made: list[FailoverStore] = []
    yield made
    for store in made:
        await store.aclose()


async def test_cluster_nodes_use_the_password_from_redis_url(
    password_cluster: RedisServer, stores: list[FailoverStore]
) -> None:
    url = f"redis://:{PASSWORD.replace('/', '%2F')}@127.0.0.1:1/0"  # host and db unused
    store = build_store(_settings(password_cluster.address, url))
    assert isinstance(store, FailoverStore)
    stores.append(store)
    await store.connect()
    assert store.primary_available
    await store.set("k", b"v")
    assert await store.get("k") == b"v"


async def test_a_cluster_refusing_the_password_stops_startup(
    password_cluster: RedisServer, stores: list[FailoverStore]
) -> None:
    store = build_store(_settings(password_cluster.address, "redis://:nope@127.0.0.1:1/0"))
    assert isinstance(store, FailoverStore)
    stores.append(store)
    with pytest.raises(ConfigError) as refused:
        await store.connect()  # raised AuthenticationError; then fell back for good
    assert str(refused.value).startswith(
        "invalid configuration: REDIS_URL: authentication refused: "
    ), refused.value


async def test_an_absent_cluster_falls_back_to_memory(stores: list[FailoverStore]) -> None:
    store = build_store(_settings(f"127.0.0.1:{free_port()}", ""))
    assert isinstance(store, FailoverStore)
    stores.append(store)
    await store.connect()  # raised RedisClusterException
    assert not store.primary_available
    await store.set("k", b"v")
    assert await store.get("k") == b"v"


async def test_a_standalone_redis_as_cluster_node_stops_startup(
    redis_server: RedisServer, stores: list[FailoverStore]
) -> None:
    store = build_store(_settings(redis_server.address, ""))
    assert isinstance(store, FailoverStore)
    stores.append(store)
    with pytest.raises(ConfigError) as refused:
        await store.connect()  # ran on memory for good, the cause "RedisClusterException"
    said = str(refused.value)
    assert said.startswith(
        "invalid configuration: REDIS_CLUSTER_NODES: a node is not in cluster mode ("
    ), said
    assert "cluster support disabled" in said, said
    assert "\n" not in said


async def test_a_user_refused_cluster_slots_stops_startup_with_the_permission_line(
    password_cluster: RedisServer, stores: list[FailoverStore]
) -> None:
    """Not "a node is not in cluster mode ... set REDIS_URL": redis-py words every
    error reply to CLUSTER SLOTS that way; the cluster is fine, the user is not."""
    cli = [REDIS_CLI, "-p", str(password_cluster.port), "--no-auth-warning", "-a", PASSWORD]
    _cli(cli, "acl", "setuser", "noslots", "on", ">pw", "allkeys", "+@all", "-cluster|slots")
    store = build_store(_settings(password_cluster.address, "redis://noslots:pw@127.0.0.1:1/0"))
    assert isinstance(store, FailoverStore)
    stores.append(store)
    with pytest.raises(ConfigError) as refused:
        await store.connect()
    assert str(refused.value) == (
        "invalid configuration: REDIS_URL: permission refused: the Redis user lacks "
        "commands CLUSTER|SLOTS (docs/operations.md, Redis ACL)"
    ), refused.value


async def test_a_busy_cluster_node_at_start_is_an_outage(
    password_cluster: RedisServer, stores: list[FailoverStore]
) -> None:
    """A script running past busy-reply-threshold answers BUSY, which ends by itself:
    memory until it does, not a start-up stopped with advice to use REDIS_URL."""
    cli = [REDIS_CLI, "-p", str(password_cluster.port), "--no-auth-warning", "-a", PASSWORD]
    _cli(cli, "config", "set", "busy-reply-threshold", "100")
    loop = _started(cli, "eval", "while true do end", "0")
    try:
        wait_until(lambda: "BUSY" in _reply(cli, "ping"), timeout_s=10)
        url = f"redis://:{PASSWORD.replace('/', '%2F')}@127.0.0.1:1/0"
        store = build_store(_settings(password_cluster.address, url))
        assert isinstance(store, FailoverStore)
        stores.append(store)
        await store.connect()  # raised "a node is not in cluster mode (BUSY ...)"
        assert not store.primary_available
    finally:
        _reply(cli, "script", "kill")
        loop.wait(timeout=10)
        wait_until(lambda: _reply(cli, "ping").strip() == "PONG", timeout_s=10)


def _started(cli: list[str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*cli, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _reply(cli: list[str], *args: str) -> str:
    done = subprocess.run([*cli, *args], capture_output=True, text=True, check=False)
    return done.stdout + done.stderr
