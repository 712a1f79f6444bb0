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
