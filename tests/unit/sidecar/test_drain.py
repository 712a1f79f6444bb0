"""novaos.sidecar.drain, the pod's preStop: holds its time and says when Envoy did not answer."""

from __future__ import annotations

import time

import pytest

from novaos.sidecar.drain import main
from tests.fixtures.common import free_port


def test_an_unreachable_envoy_still_holds_then_fails_the_hook(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Exiting at once would end the preStop early: SIGTERM before the endpoint's
    # removal has spread. Failing after the hold gives the kubelet's event the error.
    port = free_port()  # nothing listens there
    began = time.monotonic()
    assert main(["--admin-port", str(port), "--hold-s", "0.5"]) == 1
    assert time.monotonic() - began >= 0.5
    err = capsys.readouterr().err
    assert err.startswith(f"envoy drain: http://127.0.0.1:{port}/drain_listeners?graceful: ")
