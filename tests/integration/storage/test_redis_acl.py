"""A Redis ACL user: the one docs/operations.md gives serves NovaOS; one that lacks a
key pattern or a command stops start-up naming what it lacks; a permission taken
away while running is met like an outage (memory, with the cause), never INTERNAL.

Such a user made every chat fail (a shield error, or INTERNAL with a traceback from
the admission script) while readiness said storage "ok".
"""

from __future__ import annotations

import logging
import re
import shlex

import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.services.health import HealthService
from novaos.storage import FALLBACK_MESSAGE, FailoverStore
from novaos.storage.redis_store import KEY_PREFIXES
from tests.fixtures.common import await_until, holds
from tests.fixtures.cutting_proxy import CuttingProxy
from tests.fixtures.redis_server import (
    REQUIRED_PASSWORD,
    RedisServer,
    failover_store,
    refused_at_start,
)
from tests.fixtures.server import ROOT, bearer, mint, running_app

PASSWORD = "novaos-0123456789abcdef01234567"


def documented_acl() -> list[str]:
    """The ``ACL SETUSER`` line of docs/operations.md, as redis-cli would split it."""
    text = (ROOT / "docs" / "operations.md").read_text()
    line = re.search(r"^ACL SETUSER novaos .*$", text, re.MULTILINE)
    assert line is not None, "docs/operations.md gives no ACL SETUSER line"
    return [a.replace(">PASSWORD", f">{PASSWORD}") for a in shlex.split(line.group(0))]


def _admin(server: RedisServer, *args: str) -> str:
    return server.cli("--no-auth-warning", "-a", REQUIRED_PASSWORD, *args)


def _url(server: RedisServer) -> str:
    return f"redis://novaos:{PASSWORD}@127.0.0.1:{server.port}/0"


def test_the_documented_key_patterns_cover_every_prefix_the_start_up_check_probes() -> None:
    patterns = {a[1:] for a in documented_acl() if a.startswith("~")}
    assert patterns == {f"{prefix}*" for prefix in KEY_PREFIXES}


def _without(*dropped: str) -> list[str]:
    acl = documented_acl()
    assert set(dropped) <= set(acl), dropped  # each one is in the documented line
    return [a for a in acl if a not in dropped]


@pytest.mark.parametrize(
    ("acl", "lacks"),
    [
        (_without("~shield:veto:*", "~ack:nonce:*"), "keys shield:veto:*, ack:nonce:*"),
        (_without("~spark:gap:*"), "keys spark:gap:*"),
        (_without("+script|load"), "commands SCRIPT|LOAD"),
        (_without("+evalsha", "+time"), "commands TIME, EVALSHA"),
        (_without("+multi"), "commands MULTI"),
        # What the tester made: every key, read-only commands.
        (
            ["ACL", "SETUSER", "novaos", "on", f">{PASSWORD}", "~*", "&*", "+@read", "+ping"],
            "commands SCRIPT|LOAD, PEXPIRE, DEL, UNLINK",
        ),
        # Every data command, none to expire or delete a key: the probe made keys
        # it could not remove, a few more at every reconnect attempt.
        (
            [
                *("ACL", "SETUSER", "novaos", "on", f">{PASSWORD}", "~*", "&*", "+@string"),
                *("+@list", "+@hash", "+@sortedset", "+@scripting", "+ping", "+select"),
                *("+time", "+multi", "+exec", "-pexpire", "-del", "-unlink"),
            ],
            "commands PEXPIRE, DEL, UNLINK",
        ),
    ],
)
async def test_a_user_lacking_a_key_pattern_or_command_stops_startup_naming_it(
    password_redis: RedisServer, acl: list[str], lacks: str
) -> None:
    _admin(password_redis, *acl)
    message = await refused_at_start(_url(password_redis))
    left = _admin(password_redis, "KEYS", "*")
    assert _admin(password_redis, "DBSIZE").strip() == "0", left  # the probe left no key
    assert message.startswith(
        f"invalid configuration: REDIS_URL: permission refused: the Redis user lacks {lacks}"
    ), message
    assert message.endswith("(docs/operations.md, Redis ACL)")


async def test_the_documented_user_serves_chats_and_a_permission_taken_away_falls_back(
    password_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="novaos.storage")
    _admin(password_redis, *documented_acl())
    env = {
        "REDIS_URL": _url(password_redis),
        "REDIS_RECONNECT_MIN_BACKOFF_MS": "20",
        "REDIS_RECONNECT_MAX_BACKOFF_MS": "50",
    }
    async with running_app(**env) as running:
        store = running.app.store
        assert isinstance(store, FailoverStore)
        chat = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint("acl-user", "pro"))
        first = await chat.Chat(chat_pb2.ChatRequest(message="hello"), metadata=who)
        request = chat_pb2.ChatRequest(message="and again", conversation_id=first.conversation_id)
        await chat.Chat(request, metadata=who)
        assert store.primary_available  # served by Redis, as that user
        owner = f"nova:convowner:{{{first.conversation_id}}}"
        assert _admin(password_redis, "EXISTS", owner) == "1\n"

        # The admission script's EVALSHA refused (the tester's read-only user got
        # INTERNAL here): memory serves, and the cause is named.
        _admin(password_redis, "ACL", "SETUSER", "novaos", "-evalsha")
        await chat.Chat(chat_pb2.ChatRequest(message="still there?"), metadata=who)
        assert not store.primary_available
        switch = [r for r in caplog.records if r.getMessage() == FALLBACK_MESSAGE]
        cause = getattr(switch[-1], "cause", "")
        assert cause.startswith("redis refuses NovaOS: permission refused: "), cause
        health = HealthService(store=store, providers=())
        checks = (await health.ready()).checks
        assert checks["storage"] == "fallback"
        # /ready is public: the user's name and what it lacks stay in the log.
        assert "storage_cause" not in checks
        assert not [v for v in checks.values() if "novaos" in v or "refused" in v], checks

        # Not back while the permission is missing (the probe runs every command) ...
        def probes() -> int:
            stats = _admin(password_redis, "INFO", "commandstats")
            found = re.search(r"cmdstat_evalsha:.*rejected_calls=(\d+)", stats)
            return int(found.group(1)) if found else 0

        refused_before = probes()
        await await_until(lambda: holds(probes() >= refused_before + 3), what="more probes")
        assert not store.primary_available
        # ... and back once it is given again.
        _admin(password_redis, "ACL", "SETUSER", "novaos", "+evalsha")
        await await_until(lambda: holds(store.primary_available), what="back on Redis")


def _grants(message: str) -> list[str]:
    """What ``ACL SETUSER`` grants each pattern and command a refusal names."""
    lacks = message.split("lacks ", 1)[1].split(" (docs/", 1)[0]
    grants: list[str] = []
    for part in lacks.split(" and "):
        kind, _, names = part.partition(" ")
        for name in names.split(", "):
            grants.append(f"~{name}" if kind == "keys" else f"+{name.lower()}")
    return grants


async def test_one_refusal_names_all_a_user_lacks_even_without_the_cleanup_commands(
    password_redis: RedisServer,
) -> None:
    # The tester's user: one key pattern, three commands. PEXPIRE, DEL and UNLINK refused
    # made the check skip the rest: granting what the line named left a longer line.
    user = ["ACL", "SETUSER", "novaos", "on", f">{PASSWORD}", "resetkeys", "~nova:*"]
    _admin(password_redis, *user, "resetchannels", "&audit:records:*", "-@all", "+ping")
    _admin(password_redis, "ACL", "SETUSER", "novaos", "+get", "+set")
    message = await refused_at_start(_url(password_redis))
    assert _admin(password_redis, "DBSIZE").strip() == "0"  # the probe left no key
    _admin(password_redis, "ACL", "SETUSER", "novaos", *_grants(message))
    store = failover_store(_url(password_redis))
    try:
        await store.connect()  # once granted, all it named was all it lacked
        assert store.primary_available
    finally:
        await store.aclose()


@pytest.mark.parametrize(
    "acl",
    [
        # The review's: every key, so RPUSH on a key outside the patterns was never tried.
        ["allkeys", "&*", "+@all", "-pexpire", "-del", "-unlink", "-rpush"],
        # Every key readable: the outside key's GET passed, and RPUSH was not tried.
        ["resetkeys", "%R~*", "~nova:*", "&*", "+@all", "-rpush", "-del"],
    ],
)
async def test_one_refusal_names_rpush_where_no_push_could_be_probed(
    password_redis: RedisServer, acl: list[str]
) -> None:
    # Granting what the first line named left "lacks commands RPUSH" for the next start.
    _admin(password_redis, "ACL", "SETUSER", "novaos", "on", f">{PASSWORD}", *acl)
    message = await refused_at_start(_url(password_redis))
    assert _admin(password_redis, "DBSIZE").strip() == "0"  # the probe left no key
    assert "RPUSH" in message, message
    _admin(password_redis, "ACL", "SETUSER", "novaos", *_grants(message))
    store = failover_store(_url(password_redis))
    try:
        await store.connect()  # once granted, all it named was all it lacked
        assert store.primary_available
    finally:
        await store.aclose()


async def test_redis_gone_before_the_multi_probe_is_an_outage_at_start(
    password_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user without EXEC has MULTI tried on a connection of its own; that connection
    # was taken outside the error translation, so a Redis gone by then escaped the
    # start-up check as a raw redis-py ConnectionError instead of an outage.
    _admin(password_redis, *_without("+exec"))
    async with CuttingProxy(password_redis.port).running() as proxy:
        proxy.gone_after = b"\r\nEXEC\r\n"  # the bare EXEC that finds EXEC refused
        store = failover_store(f"redis://novaos:{PASSWORD}@127.0.0.1:{proxy.port}/0")
        pool = store._primary._client.connection_pool  # type: ignore[attr-defined]
        taken = pool.get_connection

        async def reconnecting(*args: object, **kwargs: object) -> object:
            # redis-py 8 hands back a pooled connection without checking it for EOF
            # (its maintenance notifications are on by default), so the connect
            # that fails here is what it does with them off, or for a new one.
            connection = await taken(*args, **kwargs)
            if proxy.gone:
                await connection.disconnect()
                try:
                    await connection.connect()
                except BaseException:
                    await pool.release(connection)
                    raise
            return connection

        monkeypatch.setattr(pool, "get_connection", reconnecting)
        try:
            await store.connect()  # raised ConnectionError out of check_access
            assert proxy.gone
            assert not store.primary_available
        finally:
            await store.aclose()
