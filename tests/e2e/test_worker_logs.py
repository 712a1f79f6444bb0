"""WORKERS=2: each worker's log lines say which worker wrote them.

The workers share the supervisor's stderr, and breakers, the Redis fallback and
readiness are each worker's own: without a ``worker`` field two workers'
``CIRCUIT_BREAKER state changed`` or start-up lines could not be told apart, nor
matched with ``circuit_breaker_state{worker=…}`` or ``x-novaos-worker``.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable

import grpc
import pytest

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.common import wait_until
from tests.fixtures.server import Subprocess

Spawn = Callable[..., Subprocess]


def _json_lines(srv: Subprocess) -> list[dict[str, object]]:
    found = []
    for line in list(srv.lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a plain `novaos: …` life-cycle line
        if isinstance(entry, dict):
            found.append(entry)
    return found


def _listening(srv: Subprocess) -> list[dict[str, object]]:
    return [e for e in _json_lines(srv) if e.get("message") == "gRPC server listening"]


async def _refused(port: int) -> tuple[str, str]:
    """An unauthenticated Chat: (its x-request-id, its x-novaos-worker)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await chat_pb2_grpc.ChatServiceStub(channel).Chat(chat_pb2.ChatRequest(message="hi"))
    trailers = dict(err.value.trailing_metadata() or ())
    return str(trailers["x-request-id"]), str(trailers["x-novaos-worker"])


def test_every_line_of_a_worker_names_it_and_the_supervisors_do_not(spawn_server: Spawn) -> None:
    # RATE_LIMIT_FRE, misspelt: the supervisor names it in a line of its own.
    srv = spawn_server(WORKERS="2", LOG_LEVEL="info", RATE_LIMIT_FRE="5")
    wait_until(lambda: len(_listening(srv)) >= 2, timeout_s=60, what=f"workers up: {srv.lines}")
    assert {e.get("worker") for e in _listening(srv)} == {0, 1}
    (config,) = [e for e in _json_lines(srv) if e.get("component") == "config"]
    assert "worker" not in config  # the supervisor's own line
    request_id, worker = asyncio.run(_refused(srv.port))

    def failed() -> list[dict[str, object]]:
        return [e for e in _json_lines(srv) if e.get("requestId") == request_id]

    wait_until(lambda: bool(failed()), timeout_s=10, what="the Call failed line")
    (line,) = failed()
    assert line["message"] == "Call failed" and line["worker"] == int(worker)
    workerless = [e for e in _json_lines(srv) if "worker" not in e]
    assert workerless == [config], workerless


def test_a_single_process_logs_no_worker(spawn_server: Spawn) -> None:
    srv = spawn_server(WORKERS="1", LOG_LEVEL="info")
    wait_until(lambda: bool(_listening(srv)), timeout_s=30, what=f"server up: {srv.lines}")
    assert all("worker" not in e for e in _json_lines(srv)), _json_lines(srv)


def test_each_workers_life_cycle_line_is_a_whole_line_naming_it(spawn_server: Spawn) -> None:
    # Written as text then line break (print under PYTHONUNBUFFERED, the image's), two
    # workers draining at once wrote "novaos: drainingnovaos: draining" and an empty
    # line, and neither said which worker it was.
    srv = spawn_server(WORKERS="2", PYTHONUNBUFFERED="1")
    wait_until(lambda: srv.count("serving on") >= 2, timeout_s=60, what=f"workers up: {srv.lines}")
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=30) == 0, "".join(srv.lines)
    wait_until(
        lambda: srv.count("novaos: supervisor stopped") == 1, timeout_s=5, what="stopped line"
    )
    plain = [line for line in list(srv.lines) if not line.startswith("{")]
    assert all(line.startswith("novaos: ") and line.endswith("\n") for line in plain), plain
    for worker in (0, 1):
        for event in ("draining", "stopped"):
            assert plain.count(f"novaos: worker {worker} {event}\n") == 1, plain
