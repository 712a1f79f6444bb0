"""A Redis that answers but refuses NovaOS (its password, its TLS certificate, a TLS
handshake it refuses: client certificate, plaintext port) is a
configuration error, not an outage: start-up stops on it; found while running, the
fallback's log line names the cause (readiness, public, does not).

Each was taken for an outage: per-process limits for ever, readiness SERVING with
storage "fallback", and a log line that did not say why.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from novaos.services.health import HealthService
from novaos.storage import FALLBACK_MESSAGE
from novaos.storage.failover import REFUSED_MESSAGE
from tests.fixtures.common import await_until, free_port, holds
from tests.fixtures.redis_server import (
    REQUIRED_PASSWORD,
    RedisServer,
    failover_store,
    refused_at_start,
)

PASSWORD = REQUIRED_PASSWORD  # what password_redis requires


@pytest.mark.parametrize(
    ("auth", "said"),
    [
        ("", "Redis requires a password and none was given"),
        (":wrong-password@", "invalid username-password pair"),
        ("someone:" + PASSWORD + "@", "invalid username-password pair"),
    ],
)
async def test_refused_credentials_stop_startup_naming_redis_url(
    password_redis: RedisServer, auth: str, said: str
) -> None:
    message = await refused_at_start(f"redis://{auth}127.0.0.1:{password_redis.port}/0")
    assert message.startswith("invalid configuration: REDIS_URL: authentication refused: ")
    assert said in message
    assert "wrong-password" not in message and PASSWORD not in message


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A Redis with a TLS port too, its certificate self-signed: (that port, the cert)."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", "key.pem", "-out", "cert.pem"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    tls_port = free_port()
    server = RedisServer(
        tmp_path / "redis",
        extra_args=(
            "--tls-port", str(tls_port),
            "--tls-cert-file", str(tmp_path / "cert.pem"),
            "--tls-key-file", str(tmp_path / "key.pem"),
            "--tls-auth-clients", "no",
        ),
    ).start()  # fmt: skip
    try:
        yield tls_port, tmp_path / "cert.pem"
    finally:
        server.kill()


async def test_an_untrusted_tls_certificate_stops_startup(tls_redis: tuple[int, Path]) -> None:
    tls_port, cert = tls_redis
    message = await refused_at_start(f"rediss://127.0.0.1:{tls_port}/0")
    assert message.startswith("invalid configuration: REDIS_URL: TLS certificate not trusted: "), (
        message
    )
    # The same server, its certificate trusted: connected.
    store = failover_store(f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={cert}")
    try:
        await store.connect()
        assert store.primary_available
    finally:
        await store.aclose()


async def test_a_password_required_while_running_is_named_in_the_log_not_in_readiness(
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="novaos.storage")
    store = failover_store(private_redis.url)
    health = HealthService(store=store, providers=())
    try:
        await store.connect()
        assert store.primary_available
        assert "storage_cause" not in (await health.ready()).checks
        private_redis.cli("CONFIG", "SET", "requirepass", PASSWORD)
        private_redis.cli("--no-auth-warning", "-a", PASSWORD, "CLIENT", "KILL", "TYPE", "normal")
        await store.set("k", b"v")  # its connection is gone; the new one is refused
        assert not store.primary_available
        switch = [r for r in caplog.records if r.getMessage() == FALLBACK_MESSAGE]
        assert len(switch) == 1
        cause = getattr(switch[0], "cause", "")
        assert cause.startswith("redis refuses NovaOS: authentication refused: "), cause
        ready = await health.ready()
        assert ready.checks["storage"] == "fallback"
        # Public (/ready through the sidecar): the cause is in the log only.
        assert "storage_cause" not in ready.checks
        assert (await store.health()).cause == cause
    finally:
        await store.aclose()


async def test_a_redis_that_comes_back_requiring_a_password_is_named_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="novaos.storage")
    server = RedisServer(tmp_path / "redis", extra_args=("--requirepass", PASSWORD))
    store = failover_store(server.url)  # no password; Redis is not there yet
    health = HealthService(store=store, providers=())
    try:
        await store.connect()
        assert not store.primary_available
        first = (await store.health()).cause
        assert "refuses" not in first  # an outage: nothing refused yet
        server.start()

        def refused() -> list[logging.LogRecord]:
            return [r for r in caplog.records if r.getMessage() == REFUSED_MESSAGE]

        await await_until(lambda: holds(len(refused()) == 1), what="the refusal named")
        cause = getattr(refused()[0], "cause", "")
        assert cause.startswith("redis refuses NovaOS: authentication refused: "), cause
        assert (await store.health()).cause == cause
        assert "storage_cause" not in (await health.ready()).checks
        # Probed again and again (every 50 ms), the same refusal is not logged again.
        await await_until(lambda: holds(_connections(server) >= 6), what="more probes")
        assert len(refused()) == 1
        assert not store.primary_available
    finally:
        await store.aclose()
        server.kill()


def _connections(server: RedisServer) -> int:
    for line in server.cli("--no-auth-warning", "-a", PASSWORD, "INFO", "stats").splitlines():
        if line.startswith("total_connections_received:"):
            return int(line.split(":")[1])
    return 0


@pytest.fixture
def mtls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A Redis whose TLS port requires a client certificate signed by its CA (the
    directory holds ca.pem, server.pem, client.pem and a stranger.pem not signed by
    it, each with its key): (that port, the directory).

    TLS 1.2 only: there the server refuses a certificate within the handshake. Under
    TLS 1.3 it does so after the client's handshake is done, and its alert can be
    lost to a connection reset (the client's first command arrives after the
    close): that attempt looks like an outage, and a later one names the refusal."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=ca",
            "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    for name, cn in (("server", "127.0.0.1"), ("client", "novaos")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr")  # fmt: skip
        (tmp_path / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-extfile", f"{name}.ext",
                "-out", f"{name}.pem")  # fmt: skip
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=x",
            "-keyout", "stranger.key", "-out", "stranger.pem")  # fmt: skip
    tls_port = free_port()
    server = RedisServer(
        tmp_path / "redis",
        extra_args=(
            "--tls-port", str(tls_port),
            "--tls-cert-file", str(tmp_path / "server.pem"),
            "--tls-key-file", str(tmp_path / "server.key"),
            "--tls-ca-cert-file", str(tmp_path / "ca.pem"),
            "--tls-auth-clients", "yes",
            "--tls-protocols", "TLSv1.2",
        ),
    ).start()  # fmt: skip
    try:
        yield tls_port, tmp_path
    finally:
        server.kill()


@pytest.mark.parametrize(
    ("client_cert", "said"),
    [
        ("", "SSLV3_ALERT_HANDSHAKE_FAILURE"),  # no client certificate
        ("stranger", "TLSV1_ALERT_UNKNOWN_CA"),  # one the server does not trust
    ],
)
async def test_a_client_certificate_missing_or_rejected_stops_startup(
    mtls_redis: tuple[int, Path], client_cert: str, said: str
) -> None:
    tls_port, certs = mtls_redis
    url = f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={certs / 'ca.pem'}"
    message = await refused_at_start(url + _client_cert(certs, client_cert) if client_cert else url)
    assert message.startswith("invalid configuration: REDIS_URL: TLS refused: "), message
    assert said in message, message
    # The certificate it trusts: connected.
    store = failover_store(url + _client_cert(certs, "client"))
    try:
        await store.connect()
        assert store.primary_available
    finally:
        await store.aclose()


def _client_cert(certs: Path, name: str) -> str:
    return f"&ssl_certfile={certs / f'{name}.pem'}&ssl_keyfile={certs / f'{name}.key'}"


async def test_rediss_to_a_server_that_answers_in_plaintext_stops_startup() -> None:
    """WRONG_VERSION_NUMBER: what answers is not TLS (a plaintext port behind a proxy
    that replies at once; a plaintext Redis port itself never answers a TLS hello,
    which is a handshake timeout, an outage)."""

    async def plaintext(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"-ERR this port speaks plaintext\r\n")
        await writer.drain()
        while await reader.read(4096):  # until the client hangs up
            pass
        writer.close()

    server = await asyncio.start_server(plaintext, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        message = await refused_at_start(f"rediss://127.0.0.1:{port}/0")
    finally:
        server.close()
        await server.wait_closed()
    assert message.startswith("invalid configuration: REDIS_URL: TLS refused: "), message
    assert "WRONG_VERSION_NUMBER" in message, message


async def test_a_tls_connection_cut_mid_handshake_is_an_outage() -> None:
    """Not every TLS failure is a refusal: a server that closes the connection
    during the handshake (a restart) is waited out on memory."""

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the client hello begins
        writer.close()

    server = await asyncio.start_server(cut, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = failover_store(f"rediss://127.0.0.1:{port}/0")
    try:
        await store.connect()
        assert not store.primary_available
    finally:
        await store.aclose()
        server.close()
        await server.wait_closed()
