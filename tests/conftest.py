"""Root conftest: registers the fixture plugins (real servers on free ports)."""

pytest_plugins: list[str] = [
    "tests.fixtures.common",
    "tests.fixtures.server",
    "tests.fixtures.fake_providers",
    "tests.fixtures.redis_server",  # before envoy, which imports it
    "tests.fixtures.envoy",
    "tests.fixtures.postgres_server",
    "tests.fixtures.gate_fakes",
    "tests.fixtures.dns_stub",
    "tests.fixtures.http_stub",
    "tests.fixtures.sockets",
]
