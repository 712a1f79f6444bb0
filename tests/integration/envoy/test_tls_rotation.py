"""A renewed certificate is served without restarting Envoy.

The pair is laid out as the kubelet lays out a Secret volume (``tls.crt`` ->
``..data/tls.crt``, ``..data`` -> a timestamped directory) and renewed the way the
kubelet renews it (a new timestamped directory, ``..data`` swapped by a rename, the
old directory removed), as when cert-manager renews ``novaos-tls``.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.common import free_port, wait_until
from tests.fixtures.envoy import EnvoySidecar


def _pair(directory: Path, days: int) -> bytes:
    """A self-signed pair in ``directory``; the certificate as DER."""
    directory.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", str(days), "-subj", "/CN=localhost",
         "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt")],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return ssl.PEM_cert_to_DER_cert((directory / "tls.crt").read_text())


def _swap_data(volume: Path, target: str) -> None:
    """The kubelet's atomic update: ``..data_tmp`` -> target, renamed over ``..data``."""
    (volume / "..data_tmp").symlink_to(target)
    os.replace(volume / "..data_tmp", volume / "..data")


def _served(port: int) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # which certificate, not whether it is trusted
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        ctx.wrap_socket(sock) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


@pytest.fixture
def secret_volume(tmp_path: Path) -> Path:
    volume = tmp_path / "secret"
    volume.mkdir()
    return volume


@pytest.fixture
def sidecar(tmp_path: Path, secret_volume: Path) -> Iterator[EnvoySidecar]:
    _pair(secret_volume / "..2026_01_01_00_00_00.000000001", days=1)
    _swap_data(secret_volume, "..2026_01_01_00_00_00.000000001")
    for name in ("tls.crt", "tls.key"):
        (secret_volume / name).symlink_to(f"..data/{name}")
    env = {
        "NODE_ENV": "production",
        "ENVOY_UPSTREAM_HOST": "127.0.0.1",
        "ENVOY_UPSTREAM_PORT": str(free_port()),  # no gateway: only the handshake matters
        "TLS_CERT_FILE": str(secret_volume / "tls.crt"),
        "TLS_KEY_FILE": str(secret_volume / "tls.key"),
    }
    envoy = EnvoySidecar(tmp_path / "envoy", env)
    envoy.workdir.mkdir()
    try:
        envoy.start(expect_healthy=False)
        yield envoy
    finally:
        envoy.stop()


def test_a_renewed_secret_is_served_without_a_restart(
    sidecar: EnvoySidecar, secret_volume: Path
) -> None:
    first = ssl.PEM_cert_to_DER_cert((secret_volume / "tls.crt").read_text())
    assert _served(sidecar.https_port) == first

    renewed = _pair(secret_volume / "..2026_01_02_00_00_00.000000002", days=90)
    _swap_data(secret_volume, "..2026_01_02_00_00_00.000000002")
    shutil.rmtree(secret_volume / "..2026_01_01_00_00_00.000000001")

    wait_until(
        lambda: _served(sidecar.https_port) == renewed,
        timeout_s=15,
        what="Envoy serving the renewed certificate",
    )
    assert sidecar.proc is not None and sidecar.proc.poll() is None
