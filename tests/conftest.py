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


def pytest_configure() -> None:
    """SIGINT as an interactive run has it. A suite started in the background by a
    non-interactive shell inherits SIGINT ignored, and passes that on to every
    child: the Ctrl-C the CLI tests send to `novaos` then did nothing. A handler
    (unlike "ignored") is reset to the default in a child at exec."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
