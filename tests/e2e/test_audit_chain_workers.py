"""WORKERS=2 on one audit directory: a cut tail one worker finds is the pod's.

Channels pinned to one worker each (``pinned``); the record cut is worker 0's
last, and nothing is written on worker 1, so worker 0 is the one that finds the
cut and worker 1 never could on its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import grpc

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.e2e.test_worker_circuits import (
    USER,
    Spawn,
    pinned,
    probe,
    ready_checks,
    run_dir,
    two_workers,
    upstreams,
)
from tests.fixtures.common import await_until, holds
from tests.fixtures.fake_providers import StartServer


async def _chat(channel: grpc.aio.Channel) -> tuple[str, str]:
    """(request id, the worker that served it)."""
    call = chat_pb2_grpc.ChatServiceStub(channel).Chat(
        chat_pb2.ChatRequest(message="tell me about otters"), metadata=USER, timeout=30
    )
    await call
    meta = dict(await call.trailing_metadata())
    return str(meta["x-request-id"]), str(meta["x-novaos-worker"])


def _last_request_id(directory: Path) -> str:
    files = sorted(directory.glob("audit-*.log"))
    lines = files[-1].read_bytes().splitlines() if files else []
    return str(json.loads(lines[-1])["request_id"]) if lines else ""


def _cut_last_line(directory: Path) -> None:
    last = sorted(directory.glob("audit-*.log"))[-1]
    lines = last.read_bytes().splitlines(keepends=True)
    last.write_bytes(b"".join(lines[:-1]))


async def test_a_tail_cut_one_worker_finds_makes_the_whole_pod_unready(
    spawn_server: Spawn, fake_server: StartServer, tmp_path: Path
) -> None:
    # Found by a reviewer: only the worker that had stored or seen the cut record
    # answered audit=down; probes landing on the other said SERVING, so the pod's
    # readiness flapped and a verify could say ok.
    audit = tmp_path / "audit"
    ups = await upstreams(fake_server)
    file_sink = {"AUDIT_STORAGE_TYPE": "file", "AUDIT_FILE_PATH": str(audit)}
    srv = await two_workers(lambda **env: spawn_server(**env, **file_sink), ups)
    async with pinned(f"127.0.0.1:{srv.port}") as on:
        request_id, worker = await _chat(on["0"])
        assert worker == "0"
        await await_until(
            lambda: holds(_last_request_id(audit) == request_id), what="worker 0's record stored"
        )
        assert {await probe(on["0"]), await probe(on["1"])} == {"SERVING"}
        _cut_last_line(audit)
        await _chat(on["0"])  # worker 0 finds its record gone: its record spills

        async def both_not_serving() -> bool:
            return {await probe(on["0"]), await probe(on["1"])} == {"NOT_SERVING"}

        await await_until(both_not_serving, timeout_s=30, what="both workers NOT_SERVING")
        assert "audit=down" in (await ready_checks(on["1"]))["refused"]
        assert [p.name for p in (run_dir(srv) / "audit-chain").iterdir()] == ["0"]
