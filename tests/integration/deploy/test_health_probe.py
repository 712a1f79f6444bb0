"""scripts/grpc_health_probe.py (the image's HEALTHCHECK) against a real grpc.health.v1
server on a free port, run as Docker runs it: a subprocess whose exit code is the verdict."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tests.fixtures.common import free_port
from tests.fixtures.deploy_assets import ROOT

PROBE = ROOT / "scripts" / "grpc_health_probe.py"


@pytest.fixture
async def health_server() -> AsyncIterator[tuple[int, health.aio.HealthServicer]]:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port, servicer
    finally:
        await server.stop(None)


async def _probe(port: int, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROBE),
        "--port",
        str(port),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_serving_server_is_healthy(
    health_server: tuple[int, health.aio.HealthServicer],
) -> None:
    port, servicer = health_server
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert await _probe(port) == (0, "")


async def test_not_serving_service_is_unhealthy(
    health_server: tuple[int, health.aio.HealthServicer],
) -> None:
    port, servicer = health_server
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await servicer.set("novaos.v1.ChatService", health_pb2.HealthCheckResponse.NOT_SERVING)
    code, err = await _probe(port, "--service", "novaos.v1.ChatService")
    assert code == 1 and "NOT_SERVING" in err


async def test_draining_server_turns_unhealthy(
    health_server: tuple[int, health.aio.HealthServicer],
) -> None:
    port, servicer = health_server
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await servicer.enter_graceful_shutdown()
    code, _ = await _probe(port)
    assert code == 1


async def test_unknown_service_and_closed_port_are_unhealthy(
    health_server: tuple[int, health.aio.HealthServicer],
) -> None:
    port, _ = health_server
    code, err = await _probe(port, "--service", "no.such.Service")
    assert code == 1 and "NOT_FOUND" in err
    code, err = await _probe(free_port(), "--timeout", "1")
    assert code == 1 and "UNAVAILABLE" in err
