"""A misspelt variable is ignored by the settings (they take what they know): start-up
names the ones that look meant for NovaOS, with the setting each was likely meant to be."""

from __future__ import annotations

from novaos.config import load_settings, unknown_variables


def test_misspelt_variables_are_named_with_the_closest_setting() -> None:
    env = {
        "REDIS_ULR": "redis://cache:6379/0",
        "AUDIT_STORAGE": "file",
        "RATE_LIMIT_FRE": "5",
        "REQUIRE_AUTH": "false",
        "REDIS_HOST": "cache",  # no setting near it: named alone
        "WEB_FETCH_ALLOWED_PORT": "443",
    }
    settings = load_settings(env)  # start-up goes on: they are only ignored
    assert settings.redis_url == "" and settings.rate_limit_free == 10
    assert unknown_variables(env) == [
        "AUDIT_STORAGE (did you mean AUDIT_STORAGE_TYPE?)",
        "RATE_LIMIT_FRE (did you mean RATE_LIMIT_FREE?)",
        "REDIS_HOST",
        "REDIS_ULR (did you mean REDIS_URL?)",
        "WEB_FETCH_ALLOWED_PORT (did you mean WEB_FETCH_ALLOWED_PORTS?)",
    ]


def test_a_misspelt_first_word_or_underscore_is_named_too() -> None:
    # Only a setting's first word was looked for: these were ignored without a word,
    # and PREFERED_PROVIDER left a production gateway on the mock.
    env = dict.fromkeys(
        (
            "CONCURENCY_LIMIT_FREE",
            "TOKENS_LIMIT_PRO",
            "RATELIMIT_FREE",
            "METRIC_PORT",  # the shape of a Kubernetes service link, but a near miss
            "WORKER",
            "LOGLEVEL",
            "PREFERED_PROVIDER",
        ),
        "1",
    )
    assert unknown_variables(env) == [
        "CONCURENCY_LIMIT_FREE (did you mean CONCURRENCY_LIMIT_FREE?)",
        "LOGLEVEL (did you mean LOG_LEVEL?)",
        "METRIC_PORT (did you mean METRICS_PORT?)",
        "PREFERED_PROVIDER (did you mean PREFERRED_PROVIDER?)",
        "RATELIMIT_FREE (did you mean RATE_LIMIT_FREE?)",
        "TOKENS_LIMIT_PRO (did you mean TOKEN_LIMIT_PRO?)",
        "WORKER (did you mean WORKERS?)",
    ]


def test_other_programs_names_are_not_named_however_alike() -> None:
    env = dict.fromkeys(
        (
            "SSL_CERT_FILE",  # OpenSSL's; 0.85 like TLS_CERT_FILE
            "PGPORT",
            "HOME",
            "HOSTNAME",
            "PYTHONDONTWRITEBYTECODE",
            "KUBERNETES_SERVICE_PORT_HTTPS",
            "KUBERNETES_PORT_443_TCP_PROTO",
            "HTTPS_PROXY",
            "LC_ALL",
            "DEBUG",
        ),
        "1",
    )
    assert unknown_variables(env) == []


def test_settings_and_other_programs_variables_are_not_named() -> None:
    env = {
        "REDIS_URL": "redis://cache:6379/0",
        "NOVAOS_WORKER_INDEX": "1",
        "PATH": "/usr/bin",
        "PYTHONUNBUFFERED": "1",
        "GRPC_VERBOSITY": "debug",  # gRPC's core
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": "/etc/ssl/cert.pem",
        "NODE_EXTRA_CA_CERTS": "/etc/ssl/cert.pem",  # Node's
        "REDIS_PASSWORD": "x",  # docker-compose.yml's .env
        "REDIS_PORT": "tcp://10.0.0.7:6379",  # Kubernetes service links
        "NOVAOS_SERVICE_HOST": "10.0.0.8",
        "NOVAOS_PORT_8443_TCP_ADDR": "10.0.0.8",
    }
    assert unknown_variables(env) == []
    # ... unless one is a near miss of a setting
    assert unknown_variables({"GRPC_PROT": "50051"}) == ["GRPC_PROT (did you mean GRPC_PORT?)"]
