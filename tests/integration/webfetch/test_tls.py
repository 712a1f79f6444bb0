"""TLS to a pinned address still verifies the certificate against the name.

A local CA signs a certificate for ``pinned.test``; the server listens on
127.0.0.1 and the DNS stub maps the name there. SNI and the hostname check
must use ``pinned.test`` even though the socket is dialled by address.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.dns_stub import StubZone
from tests.fixtures.http_stub import StubHttpServer, redirect, respond
from tests.integration.webfetch.conftest import MakeFetcher, local_env

_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Pki:
    ca: Path
    good: tuple[Path, Path]  # cert, key for pinned.test
    wrong: tuple[Path, Path]  # cert, key for other.test


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _leaf(directory: Path, name: str) -> tuple[Path, Path]:
    (directory / f"{name}.ext").write_text(
        f"subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    _openssl(
        "req",
        *_EC,
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        f"/CN={name}",
        cwd=directory,
    )
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext",
        cwd=directory,
    )  # fmt: skip
    return directory / f"{name}.pem", directory / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    _openssl(
        "req", "-x509", *_EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=NovaOS test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory,
    )  # fmt: skip
    return Pki(
        directory / "ca.pem", _leaf(directory, "pinned.test"), _leaf(directory, "other.test")
    )


async def _tls_server(cert: tuple[Path, Path]) -> StubHttpServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    server = StubHttpServer()
    server.routes["/"] = respond(200, b"over tls")
    await server.start(ssl_context=context)
    return server


@pytest.fixture
async def good_server(pki: Pki) -> AsyncIterator[StubHttpServer]:
    server = await _tls_server(pki.good)
    yield server
    await server.stop()


@pytest.fixture
async def wrong_server(pki: Pki) -> AsyncIterator[StubHttpServer]:
    server = await _tls_server(pki.wrong)
    yield server
    await server.stop()


def _trusting(pki: Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca))


async def test_pinned_connection_verifies_the_original_name(
    pki: Pki, good_server: StubHttpServer, make_fetcher: MakeFetcher, dns_stub: StubZone
) -> None:
    dns_stub.set("pinned.test", ["127.0.0.1"])
    fetcher = make_fetcher(ssl_context=_trusting(pki), **local_env(good_server.port))
    result = await fetcher.fetch(f"https://pinned.test:{good_server.port}/")
    assert (result.result, result.text) == ("ok", "over tls")
    assert good_server.requests[0].headers["host"] == f"pinned.test:{good_server.port}"


async def test_certificate_for_another_name_is_refused(
    pki: Pki, wrong_server: StubHttpServer, make_fetcher: MakeFetcher, dns_stub: StubZone
) -> None:
    dns_stub.set("pinned.test", ["127.0.0.1"])
    fetcher = make_fetcher(ssl_context=_trusting(pki), **local_env(wrong_server.port))
    result = await fetcher.fetch(f"https://pinned.test:{wrong_server.port}/")
    assert (result.result, result.reason) == ("error", "tls_error")
    assert wrong_server.requests == []


async def test_untrusted_ca_is_refused_unless_validation_is_off(
    good_server: StubHttpServer, make_fetcher: MakeFetcher, dns_stub: StubZone
) -> None:
    dns_stub.set("pinned.test", ["127.0.0.1"])
    url = f"https://pinned.test:{good_server.port}/"
    strict = make_fetcher(**local_env(good_server.port))  # the default roots (certifi)
    lax = make_fetcher(**local_env(good_server.port, VALIDATE_CERTS="false"))
    assert ((await strict.fetch(url)).result, (await strict.fetch(url)).reason) == (
        "error",
        "tls_error",
    )
    assert (await lax.fetch(url)).text == "over tls"


async def test_https_to_http_downgrade_is_refused(
    pki: Pki,
    good_server: StubHttpServer,
    http_stub: StubHttpServer,
    make_fetcher: MakeFetcher,
    dns_stub: StubZone,
) -> None:
    dns_stub.set("pinned.test", ["127.0.0.1"])
    good_server.routes["/down"] = redirect(f"http://127.0.0.1:{http_stub.port}/")
    http_stub.routes["/"] = respond(200, b"plain")
    fetcher = make_fetcher(
        ssl_context=_trusting(pki),
        WEB_FETCH_ALLOW_LOCALHOST="true",
        WEB_FETCH_ALLOWED_PORTS=f"{good_server.port},{http_stub.port}",
    )
    result = await fetcher.fetch(f"https://pinned.test:{good_server.port}/down")
    assert (result.result, result.reason) == ("blocked", "redirect_downgrade")
    assert http_stub.requests == []
