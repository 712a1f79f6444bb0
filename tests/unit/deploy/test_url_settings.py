"""URL-shaped settings are checked when read: a value no client could use stops
start-up with one line naming the variable (not a traceback from the client
library, or a worker restarted for ever)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from novaos.config import load_settings
from novaos.errors import ConfigError
from novaos.storage import check_store_settings

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


# What `openssl rand -base64 48` printed once: like most such passwords, it holds a '/'.
BASE64_PASSWORD = "k3/Vq+0Zr8T2a/WmYx9LpN4s7uE1hJc6Df5Gb+Ro2Hn8Qw3Ei/Tz7Ya1Xv0Uc4Sm"


@pytest.mark.parametrize(
    ("name", "template"),
    [
        ("REDIS_URL", "redis://:{}@redis:6379/0"),  # docker-compose.yml, the k8s recipe
        ("REDIS_URL", "rediss://novaos:{}@cache.example.com:6380"),
        ("REDIS_URL", "redis://:{}@127.0.0.1:6379/0?x"),  # a '?' too
        ("DATABASE_URL", "postgresql://novaos:{}@postgres:5432/novaos"),  # compose's
    ],
)
def test_a_password_that_ends_the_host_part_is_named_as_the_problem(
    name: str, template: str
) -> None:
    # The redis URL was refused with "check the port" (it has none wrong); libpq took
    # the user name for the host and the audit spilled for ever.
    env = {**BASE, name: template.format(BASE64_PASSWORD)}
    with pytest.raises(ConfigError, match=f"^invalid configuration: {name}: ") as refused:
        load_settings(env)
    message = str(refused.value)
    assert "the password" in message and "URL-encode" in message and "port" not in message
    assert not any(part in message for part in BASE64_PASSWORD.split("/"))
    # Encoded as the message says, the same password is taken.
    load_settings({**env, name: template.format(quote(BASE64_PASSWORD, safe=""))})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDIS_URL", "redis://:pw@cache:6379/0"),
        ("REDIS_URL", "redis://cache:6379/0?client_name=a@b"),  # an '@' in the query
        ("DATABASE_URL", "postgresql://cache/novaos?user=a@b"),
        ("DATABASE_URL", "host=db password=a/b@c dbname=novaos"),
        ("REDIS_URL", "rediss://user:pw@cache.example.com:6380"),
        ("REDIS_URL", "unix:///run/redis/redis.sock"),
        ("REDIS_CLUSTER_NODES", "10.0.0.1:7000,10.0.0.2:7001"),
        ("OPENAI_COMPAT_BASE_URL", "http://127.0.0.1:8000/v1"),
    ],
)
def test_the_documented_forms_are_accepted(name: str, value: str) -> None:
    load_settings({**BASE, name: value})


@pytest.mark.parametrize(
    "value",
    ["redis://cache:6379/abc", "redis://cache:6379/-1", "redis://cache:6379/0/1"],
)
def test_a_redis_url_path_that_is_no_database_number_is_refused(value: str) -> None:
    # redis-py took "/abc" as database 0 and "/0/1" as 1, saying nothing; "/-1" the server refused.
    with pytest.raises(ConfigError) as refused:
        load_settings({**BASE, "REDIS_URL": value})
    assert str(refused.value) == (
        "invalid configuration: REDIS_URL: the path is not a database number (redis://host:6379/0)"
    )


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("redis://cache:6379?db=-1", "0 or more"),
        # redis-py raised these when the client was built: a traceback at start-up
        ("redis://cache:6379/0?socket_timeout=abc", "'socket_timeout'"),
        ("redis://cache:6379/0?ssl_cert_reqs=required", "use rediss://"),
        ("rediss://cache:6380/0?ssl_cert_reqs=bogus", "bogus"),
        ("redis://cache:6379/0?protocol=5", "protocol"),
        ("redis://cache:6379/0?sockettimeout=1", "'sockettimeout'"),
        ("unix:///run/redis/redis.sock?db=one", "'db'"),
    ],
)
def test_a_redis_url_redis_py_would_refuse_is_refused_at_start(value: str, said: str) -> None:
    settings = load_settings({**BASE, "REDIS_URL": value})
    with pytest.raises(ConfigError) as refused:
        check_store_settings(settings)  # what the supervisor and build_store run
    assert str(refused.value).startswith("invalid configuration: REDIS_URL: ")
    assert said in str(refused.value)


def test_a_redis_py_refusal_does_not_quote_the_password() -> None:
    settings = load_settings(
        {**BASE, "REDIS_URL": "rediss://:hunter2secret@c:1/0?ssl_cert_reqs=hunter2secret"}
    )
    with pytest.raises(ConfigError) as refused:
        check_store_settings(settings)
    assert "hunter2secret" not in str(refused.value)


@pytest.mark.parametrize(
    "value",
    [
        "redis://cache:6379",
        "redis://cache:6379/",
        "redis://cache:6379/15",
        "rediss://cache:6380/0?ssl_cert_reqs=none&ssl_check_hostname=false",
        "redis://cache:6379/0?socket_timeout=1.5&client_name=novaos",
        "unix:///run/redis/redis.sock?db=2",
    ],
)
def test_redis_url_options_redis_py_takes_are_accepted(value: str) -> None:
    settings = load_settings({**BASE, "REDIS_URL": value})
    check_store_settings(settings)
    assert settings.redis_url == value
