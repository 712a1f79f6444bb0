"""Values that can never be right stop start-up with one line naming the variable;
values that only differ in case from a right one are taken."""

from __future__ import annotations

import pytest

from novaos.config import AuditStorage, Environment, load_settings
from novaos.errors import ConfigError

BASE = {"REQUIRE_AUTH": "false"}
SECRET = "Hq7vXk2pLm9sRt4wYz6bNc3dJf8gUe5hKi1oPa0qSd7rTy2uVb4nMw6x"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"WEB_FETCH_ALLOWED_PORTS": "0"}, "WEB_FETCH_ALLOWED_PORTS"),
        ({"WEB_FETCH_ALLOWED_PORTS": "443,70000"}, "WEB_FETCH_ALLOWED_PORTS"),
        ({"WEB_FETCH_ALLOWED_PORTS": ","}, "WEB_FETCH_ALLOWED_PORTS"),
        ({"WEB_FETCH_ALLOWED_PORTS": " "}, "WEB_FETCH_ALLOWED_PORTS"),
        (
            {"WEB_FETCH_CONNECT_TIMEOUT_MS": "5000", "WEB_FETCH_TOTAL_TIMEOUT_MS": "3000"},
            "WEB_FETCH_CONNECT_TIMEOUT_MS",
        ),
        (
            {"REDIS_RECONNECT_MIN_BACKOFF_MS": "5000", "REDIS_RECONNECT_MAX_BACKOFF_MS": "100"},
            "REDIS_RECONNECT_MIN_BACKOFF_MS",
        ),
        (
            {"PROVIDER_CONNECT_TIMEOUT_MS": "999999", "PROVIDER_TOTAL_TIMEOUT_MS": "10"},
            "PROVIDER_CONNECT_TIMEOUT_MS",
        ),
        ({"JWT_EXPIRY": "0"}, "JWT_EXPIRY"),  # every token minted already expired
        ({"JWT_EXPIRY": "0s"}, "JWT_EXPIRY"),
        ({"SHUTDOWN_GRACE_S": "inf"}, "SHUTDOWN_GRACE_S"),  # an unbounded drain
        ({"SHUTDOWN_GRACE_S": "1e309"}, "SHUTDOWN_GRACE_S"),  # inf by another name
        ({"SHUTDOWN_GRACE_S": "nan"}, "SHUTDOWN_GRACE_S"),
        ({"GRPC_PORT": "39999", "METRICS_PORT": "39999"}, "METRICS_PORT"),
        # no request could ever be admitted; each refusal said to retry in 1 s
        ({"CONCURRENCY_LIMIT_FREE": "0"}, "CONCURRENCY_LIMIT_FREE"),
        ({"RATE_LIMIT_PRO": "0"}, "RATE_LIMIT_PRO"),
        ({"TOKEN_LIMIT_ENTERPRISE": "0"}, "TOKEN_LIMIT_ENTERPRISE"),
        # Redis refuses such expiries: every chat failed INTERNAL, with Redis only
        ({"LEASE_TTL_MS": "10000000000000000000"}, "LEASE_TTL_MS"),
        ({"LEASE_TTL_MS": "86400001"}, "LEASE_TTL_MS"),
        ({"CONVERSATION_TTL_S": "100000000000000000"}, "CONVERSATION_TTL_S"),
        ({"CONVERSATION_TTL_S": "315360001"}, "CONVERSATION_TTL_S"),
        ({"REDIS_COMMAND_TIMEOUT_MS": "99999999999999999999999"}, "REDIS_COMMAND_TIMEOUT_MS"),
        ({"REDIS_COMMAND_TIMEOUT_MS": "3600001"}, "REDIS_COMMAND_TIMEOUT_MS"),
        # found by gRPC's C core only once the app was built, in a line of its own
        ({"GRPC_HOST": " "}, "GRPC_HOST"),
        ({"GRPC_HOST": "not a host"}, "GRPC_HOST"),
        ({"GRPC_HOST": " 127.0.0.1"}, "GRPC_HOST"),
        ({"GRPC_HOST": "127.0.0.1:50051"}, "GRPC_HOST"),
        ({"GRPC_HOST": "[127.0.0.1]"}, "GRPC_HOST"),
        ({"GRPC_HOST": "-bad-.example"}, "GRPC_HOST"),
        # bound later and named METRICS_PORT ("cannot listen on abc def:9464")
        ({"METRICS_HOST": "abc def"}, "METRICS_HOST"),
        ({"METRICS_HOST": " "}, "METRICS_HOST"),
        ({"METRICS_HOST": "[127.0.0.1]"}, "METRICS_HOST"),
        # rendered fine, then Envoy crash-looped on "malformed IP address"
        *(
            ({"ENVOY_LISTEN_HOST": host}, "ENVOY_LISTEN_HOST")
            for host in ("localhost", "abc", " ", "[127.0.0.1]", "0.0.0.0:8443")
        ),
        # rendered, then Envoy refused the config ("Unable to parse JSON as proto")
        ({"ENVOY_MAX_REQUEST_BYTES": "4294967296"}, "ENVOY_MAX_REQUEST_BYTES"),
        *(
            ({name: "100000000000000000000000"}, name)
            for name in (
                "ENVOY_UNARY_TIMEOUT_MS",
                "ENVOY_CHAT_TIMEOUT_MS",
                "ENVOY_STREAM_TIMEOUT_MS",
                "ENVOY_REQUEST_TIMEOUT_MS",
                "ENVOY_MAX_HEAP_MB",
                "STREAM_IDLE_TIMEOUT_MS",
            )
        ),
        # rendered into a DNS cluster, found only as "no healthy upstream"
        ({"ENVOY_UPSTREAM_HOST": "no such host"}, "ENVOY_UPSTREAM_HOST"),
        ({"ENVOY_UPSTREAM_HOST": "[novaos]"}, "ENVOY_UPSTREAM_HOST"),
        # Gemini's model is a URL path part: "..", resolved, left GEMINI_BASE_URL's path
        ({"GEMINI_MODEL": "x/../../other"}, "GEMINI_MODEL"),
        # a request's path goes after the base URL's: a query would be cut off it
        (
            {"OPENAI_COMPAT_BASE_URL": "http://h/v1?api-version=2024-06-01"},
            "OPENAI_COMPAT_BASE_URL",
        ),
        ({"OPENAI_BASE_URL": "https://proxy.example/openai/v1?"}, "OPENAI_BASE_URL"),
        ({"ANTHROPIC_BASE_URL": "https://proxy.example/v1#x"}, "ANTHROPIC_BASE_URL"),
        ({"GEMINI_BASE_URL": "https://proxy.example/v1beta?key=AIzaSyQQ"}, "GEMINI_BASE_URL"),
        ({"GEMINI_MODEL": "/models/gemini-2.0-flash"}, "GEMINI_MODEL"),
        # the others go in the body: only what spoils audit records and labels
        ({"OPENAI_MODEL": "gpt 4o"}, "OPENAI_MODEL"),
        ({"ANTHROPIC_MODEL": "claude\t3"}, "ANTHROPIC_MODEL"),
        ({"OPENAI_COMPAT_MODEL": "m" * 201}, "OPENAI_COMPAT_MODEL"),
        # nor what reorders or hides text in a record or label, or cannot be encoded
        ({"OPENAI_COMPAT_MODEL": "llama\u202e3"}, "OPENAI_COMPAT_MODEL"),  # RLO
        ({"OPENAI_MODEL": "gpt\u2066-4o"}, "OPENAI_MODEL"),  # LRI
        ({"ANTHROPIC_MODEL": "claude\u200b3"}, "ANTHROPIC_MODEL"),  # zero-width space
        ({"OPENAI_COMPAT_MODEL": "llama\ufeff"}, "OPENAI_COMPAT_MODEL"),  # BOM
        ({"OPENAI_COMPAT_MODEL": "llama\udc803"}, "OPENAI_COMPAT_MODEL"),  # a non-UTF-8 byte
        ({"OPENAI_MODEL": "gpt\u00a04o"}, "OPENAI_MODEL"),  # no-break space
    ],
)
def test_a_value_that_can_never_be_right_is_refused(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^invalid configuration: {variable}: ") as refused:
        load_settings({**BASE, **env})
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "env",
    [
        {"WEB_FETCH_ALLOWED_PORTS": "1,65535"},
        {"REDIS_RECONNECT_MIN_BACKOFF_MS": "100", "REDIS_RECONNECT_MAX_BACKOFF_MS": "100"},
        {"PROVIDER_CONNECT_TIMEOUT_MS": "10", "PROVIDER_TOTAL_TIMEOUT_MS": "10"},
        {"WEB_FETCH_CONNECT_TIMEOUT_MS": "10", "WEB_FETCH_TOTAL_TIMEOUT_MS": "10"},
        {"JWT_EXPIRY": "1"},
        {"SHUTDOWN_GRACE_S": "0.5"},
        {"GRPC_PORT": "0", "METRICS_PORT": "0"},  # two free ports, as the tests use
        {"CONCURRENCY_LIMIT_FREE": "1", "RATE_LIMIT_PRO": "1", "TOKEN_LIMIT_ENTERPRISE": "1"},
        {"LEASE_TTL_MS": "86400000", "CONVERSATION_TTL_S": "315360000"},
        {"REDIS_COMMAND_TIMEOUT_MS": "3600000"},
        {"GEMINI_MODEL": "models/gemini-1.5-pro-002", "OPENAI_MODEL": "ft:gpt-4o-mini:org:x:1"},
        # vLLM serves a model by its --model path unless told otherwise: the name the
        # server answers to, refused by the rule for Gemini's URL path
        {
            "OPENAI_COMPAT_BASE_URL": "http://vllm:8000/v1",
            "OPENAI_COMPAT_MODEL": "/models/Meta-Llama-3-8B-Instruct",
            "OPENAI_MODEL": "./" + "m" * 198,
            "ANTHROPIC_MODEL": "模型-דגם-7b",  # any script, right-to-left too
        },
        *(
            {"GRPC_HOST": host}
            for host in ("0.0.0.0", "::", "::1", "[::1]", "localhost", "novaos-0.novaos.ns.svc")
        ),
        *({"ENVOY_LISTEN_HOST": host} for host in ("0.0.0.0", "::", "[::]", "127.0.0.1")),
        {"ENVOY_MAX_REQUEST_BYTES": "4294967295", "ENVOY_MAX_HEAP_MB": "1048576"},
        {"ENVOY_STREAM_TIMEOUT_MS": "86400000", "STREAM_IDLE_TIMEOUT_MS": "86400000"},
        # A gateway's environment seldom holds the sidecar's ports (in Kubernetes they
        # are in another ConfigMap): its ports are not compared with their defaults.
        # The render compares the pod's listeners (tests/unit/sidecar/test_render.py).
        {"NODE_ENV": "production", "JWT_SECRET": SECRET, "GRPC_PORT": "8443"},
        {"NODE_ENV": "production", "JWT_SECRET": SECRET, "METRICS_PORT": "9901"},
        {"GRPC_PORT": "8080", "METRICS_PORT": "8443"},
        {"METRICS_PORT": "8080"},
        *({"ENVOY_UPSTREAM_HOST": host} for host in ("127.0.0.1", "::1", "[::1]", "novaos")),
    ],
)
def test_the_edges_are_accepted(env: dict[str, str]) -> None:
    load_settings({**BASE, **env})


def test_enumerated_values_are_case_insensitive_like_log_level() -> None:
    settings = load_settings(
        {
            **BASE,
            "JWT_SECRET": SECRET,
            "NODE_ENV": " Production ",
            "AUDIT_STORAGE_TYPE": "MEMORY",
            "AUDIT_FSYNC": "Always",
            "LOG_LEVEL": "DEBUG",
        }
    )
    assert settings.node_env is Environment.PRODUCTION and settings.is_production
    assert settings.audit_storage_type is AuditStorage.MEMORY
    assert (settings.audit_fsync, settings.log_level) == ("always", "debug")


@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        ({"MEMORY_STORE_MAX_KEYS": "20"}, "MEMORY_STORE_MAX_KEYS: must be at least 100"),
        ({"REDIS_POOL_SIZE": "1001"}, "REDIS_POOL_SIZE: must be at most 1000"),
        ({"WORKERS": "0"}, "WORKERS: must be at least 1"),
    ],
)
def test_a_value_out_of_its_range_is_refused_naming_the_bound(
    env: dict[str, str], refusal: str
) -> None:
    # In pydantic's own words it read "Input should be greater than or equal to 100",
    # unlike every other setting's refusal.
    with pytest.raises(ConfigError, match=f"^invalid configuration: {refusal}$"):
        load_settings({**BASE, **env})
