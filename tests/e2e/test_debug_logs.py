"""LOG_LEVEL=debug shows NovaOS's own detail, not the libraries' internals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import grpc

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from tests.fixtures.common import wait_until
from tests.fixtures.server import Subprocess, bearer, mint


async def _chats(port: int, n: int) -> None:
    for _ in range(n):  # a channel each: grpc's loop line came once per call
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = chat_pb2_grpc.ChatServiceStub(channel)
            await stub.Chat(chat_pb2.ChatRequest(message="hello"), metadata=bearer(mint()))


def test_debug_level_leaves_grpc_and_asyncio_at_warnings(
    spawn_server: Callable[..., Subprocess],
) -> None:
    # With LOG_LEVEL=debug two chats gave 22 "[_cygrpc] Loaded running loop" lines
    # (component grpc, no request id) against 4 of NovaOS's own.
    srv = spawn_server(LOG_LEVEL="debug")
    asyncio.run(_chats(srv.port, 3))
    srv.proc.terminate()
    wait_until(lambda: srv.count("novaos: stopped") > 0, timeout_s=30, what="the server stopped")
    entries = []
    for line in list(srv.lines):
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a plain `novaos: …` life-cycle line
    assert any(e.get("component") == "server" for e in entries), srv.lines  # it did log
    libraries = [e for e in entries if e.get("component") in {"grpc", "asyncio"}]
    assert all(e["level"] in {"warn", "error", "fatal"} for e in libraries), libraries
