"""URL-shaped settings are checked when read: a value no client could use stops
start-up with one line naming the variable (not a traceback from the client
library, or a worker restarted for ever)."""

from __future__ import annotations

import pytest

from novaos.config import load_settings
from novaos.errors import ConfigError

BASE = {"REQUIRE_AUTH": "false"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDIS_URL", "not-a-url"),
        ("REDIS_URL", "ftp://cache:6379"),
        ("REDIS_URL", "redis://cache:99999/0"),
        ("REDIS_URL", "redis:///0"),
        ("REDIS_CLUSTER_NODES", "x"),
        ("REDIS_CLUSTER_NODES", "a:7000,b"),
        ("REDIS_CLUSTER_NODES", "a:port"),
        ("OPENAI_BASE_URL", "notaurl"),
        ("OPENAI_COMPAT_BASE_URL", "localhost:8000/v1"),
        ("ANTHROPIC_BASE_URL", "ftp://api.anthropic.com"),
        ("GEMINI_BASE_URL", "https://"),
    ],
)
def test_a_url_no_client_could_use_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^invalid configuration: {name}: "):
        load_settings({**BASE, name: value})


def test_a_redis_url_is_not_quoted_back() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({**BASE, "REDIS_URL": "redis://:hunter2secret@cache:99999/0"})
    assert "hunter2secret" not in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDIS_URL", "redis://:pw@cache:6379/0"),
        ("REDIS_URL", "rediss://user:pw@cache.example.com:6380"),
        ("REDIS_URL", "unix:///run/redis/redis.sock"),
        ("REDIS_CLUSTER_NODES", "10.0.0.1:7000,10.0.0.2:7001"),
        ("OPENAI_COMPAT_BASE_URL", "http://127.0.0.1:8000/v1"),
    ],
)
def test_the_documented_forms_are_accepted(name: str, value: str) -> None:
    load_settings({**BASE, name: value})
