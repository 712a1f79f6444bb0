"""A Redis password with '/' (most base64 ones), URL-encoded in REDIS_URL as the
refusal of the unencoded form says, reaches a real Redis intact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from novaos.config import load_settings
from novaos.storage import FailoverStore, build_store
from tests.fixtures.redis_server import RedisServer
from tests.unit.deploy.test_url_settings import BASE64_PASSWORD


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", extra_args=("--requirepass", BASE64_PASSWORD))
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def test_an_encoded_password_authenticates(password_redis: RedisServer) -> None:
    url = f"redis://:{quote(BASE64_PASSWORD, safe='')}@127.0.0.1:{password_redis.port}/0"
    store = build_store(load_settings({"REQUIRE_AUTH": "false", "REDIS_URL": url}))
    assert isinstance(store, FailoverStore)
    try:
        await store.connect()
        assert store.primary_available
        await store.set("k", b"v")
        assert password_redis.cli("--no-auth-warning", "-a", BASE64_PASSWORD, "GET", "k") == "v\n"
    finally:
        await store.aclose()
