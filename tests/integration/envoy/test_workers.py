"""Through the sidecar, a gateway with several workers gets its requests spread."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.fixtures.common import wait_until
from tests.fixtures.envoy import Upstream, run_sidecar
from tests.fixtures.server import Subprocess, mint
from tests.integration.envoy.helpers import bearer, client


def test_requests_through_envoy_reach_every_worker(
    spawn_server: Callable[..., Subprocess], tmp_path: Path, redis_url: str
) -> None:
    # Envoy kept one HTTP/2 connection to the gateway, and the kernel hands a whole
    # connection to one worker (SO_REUSEPORT): the other worker took nothing.
    srv = spawn_server(WORKERS="2", REDIS_URL=redis_url, MOCK_TOKEN_DELAY_MS="0")
    wait_until(lambda: srv.count("serving on") >= 2, timeout_s=60, what="both workers up")
    token = mint("spread", "pro")
    workers: Counter[str] = Counter()
    for sidecar in run_sidecar(Upstream("127.0.0.1", srv.port, token), tmp_path / "envoy"):
        with client(sidecar) as http:
            for i in range(600):  # a new upstream connection every 50: 12 draws
                reply = http.post("/api/v1/chat", json={"message": f"q{i}"}, headers=bearer(token))
                assert reply.status_code == 200, reply.text
                workers[reply.headers["x-novaos-worker"]] += 1
    assert set(workers) == {"0", "1"}, workers
