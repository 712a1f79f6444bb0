"""The load generator: one scenario per process, pinned to its own core.

    python -m bench.loadgen '<json spec>'      # writes the JSON result to spec["out"]

A spec names the target kind (``openai`` HTTP, ``novaos_http`` through Envoy,
``novaos_grpc``), unary or stream, the concurrency and two bounds (a request
count and a duration). Each worker keeps one keep-alive connection (gRPC: one
shared HTTP/2 channel). The HTTP client is a few lines over asyncio streams so
the client costs the same, and little, on every path.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import uvloop

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc

PROMPT = "Give me three short steps to tidy my desk."
TOKEN_MARK = re.compile(rb'"content":\s*"[^"]|"delta":\s*\{\s*"text"')
COMPLETED = re.compile(rb"OUTCOME_COMPLETED")


@dataclass
class Sample:
    latency: list[float] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)
    itl: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""


class HttpConn:
    """One HTTP/1.1 keep-alive connection: POST, then read a body or chunks."""

    def __init__(self, host: str, port: int, auth: str = "") -> None:
        self.host, self.port = host, port
        self.extra = f"authorization: Bearer {auth}\r\n".encode() if auth else b""
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, on_data: Callable[[bytes], None]) -> int:
        reused = self.writer is not None and not self.writer.is_closing()
        if not reused:
            await self._connect()
        try:
            return await self._exchange(path, body, on_data)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            read = exc.partial if isinstance(exc, asyncio.IncompleteReadError) else b""
            if not reused or read:
                raise
            # The server closed the connection while it sat idle (uvicorn, under
            # LiteLLM, does after 5 s; c=1 blocks leave a path idle that long):
            # reconnect and send again once, as HTTP clients do.
            await self._connect()
            return await self._exchange(path, body, on_data)

    async def _connect(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def _exchange(self, path: str, body: bytes, on_data: Callable[[bytes], None]) -> int:
        assert self.reader is not None and self.writer is not None
        self.writer.write(
            b"POST %s HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\n"
            b"%scontent-length: %d\r\n\r\n%s"
            % (path.encode(), self.host.encode(), self.extra, len(body), body)
        )
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = int(head.split(" ", 2)[1])
        if (m := re.search(r"content-length:\s*(\d+)", head)) is not None:
            on_data(await self.reader.readexactly(int(m.group(1))))
        elif "chunked" in head:
            await self._chunks(on_data)
        if "connection: close" in head:
            self.writer.close()
            self.writer = None
        return status

    async def _chunks(self, on_data: Callable[[bytes], None]) -> None:
        assert self.reader is not None
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return
            on_data((await self.reader.readexactly(size + 2))[:-2])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _http_body(spec: dict[str, Any]) -> tuple[str, bytes]:
    stream = spec["mode"] == "stream"
    if spec["kind"] == "novaos_http":
        return ("/api/v1/chat/stream" if stream else "/api/v1/chat"), json.dumps(
            {"message": PROMPT}
        ).encode()
    body: dict[str, Any] = {
        "model": spec.get("model", "bench-model"),
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return "/v1/chat/completions", json.dumps(body).encode()


def _http_worker(spec: dict[str, Any]) -> Callable[[Sample], Awaitable[None]]:
    host, port = spec["target"].rsplit(":", 1)
    conn = HttpConn(host, int(port), spec.get("auth", ""))
    path, body = _http_body(spec)
    novaos = spec["kind"] == "novaos_http"

    async def one(sample: Sample) -> None:
        t0 = time.perf_counter()
        marks: list[float] = []
        data: list[bytes] = []

        def on_data(chunk: bytes) -> None:
            if TOKEN_MARK.search(chunk):
                marks.append(time.perf_counter())
            data.append(chunk)

        status = await conn.post(path, body, on_data)
        text = b"".join(data)
        if status != 200 or (novaos and not COMPLETED.search(text)):
            raise RuntimeError(f"status {status}: {text[:200]!r}")
        _record(sample, t0, marks, spec["mode"] == "stream")

    return one


def _grpc_worker(spec: dict[str, Any], stub: Any) -> Callable[[Sample], Awaitable[None]]:
    async def one(sample: Sample) -> None:
        t0 = time.perf_counter()
        marks: list[float] = []
        if spec["mode"] == "stream":
            outcome = None
            async for event in stub.StreamChat(chat_pb2.StreamChatRequest(message=PROMPT)):
                kind = event.WhichOneof("event")
                if kind == "delta":
                    marks.append(time.perf_counter())
                elif kind == "completed":
                    outcome = event.completed.outcome
        else:
            outcome = (await stub.Chat(chat_pb2.ChatRequest(message=PROMPT))).outcome
        if outcome != chat_pb2.OUTCOME_COMPLETED:
            raise RuntimeError(f"outcome {outcome}")
        _record(sample, t0, marks, spec["mode"] == "stream")

    return one


def _record(sample: Sample, t0: float, marks: list[float], stream: bool) -> None:
    end = time.perf_counter()
    sample.latency.append(end - t0)
    if stream:
        if not marks:
            raise RuntimeError("stream carried no tokens")
        sample.ttft.append(marks[0] - t0)
        sample.itl.extend(b - a for a, b in itertools.pairwise(marks))


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    sample = Sample()
    deadline = time.perf_counter() + spec["duration_s"]
    budget = [spec["requests"]]
    channel = None
    if spec["kind"] == "novaos_grpc":
        channel = grpc.aio.insecure_channel(spec["target"])
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        makers = [_grpc_worker(spec, stub) for _ in range(spec["concurrency"])]
    else:
        makers = [_http_worker(spec) for _ in range(spec["concurrency"])]

    async def loop(one: Callable[[Sample], Awaitable[None]]) -> None:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            await _guarded(one, sample)

    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            for one in makers:
                group.create_task(loop(one))
    finally:
        if channel is not None:
            await channel.close()
    return _result(sample, time.perf_counter() - started)


async def _guarded(one: Callable[[Sample], Awaitable[None]], sample: Sample) -> None:
    try:
        await one(sample)
    except (OSError, RuntimeError, ValueError, grpc.RpcError, asyncio.IncompleteReadError) as exc:
        sample.errors += 1
        sample.first_error = sample.first_error or repr(exc)[:300]


def _result(sample: Sample, elapsed: float) -> dict[str, Any]:
    return {
        "latency": sample.latency,
        "ttft": sample.ttft,
        "itl": sample.itl,
        "errors": sample.errors,
        "first_error": sample.first_error,
        "elapsed_s": elapsed,
        "completed": len(sample.latency),
    }


async def run_interleaved(spec: dict[str, Any]) -> dict[str, Any]:
    """Concurrency 1, paths taking turns in short blocks: a stall on a shared
    machine then lands on every path alike instead of on whichever ran at the
    time, while each request meets the machine as its own gateway left it.

    All servers share one core, so a request right after another path's finds
    that path's code and data in the caches, not its own: in a full run
    NovaOS's requests that followed one of LiteLLM's were 1.5-1.9 ms slower at
    p50 than those that followed any other path (and LiteLLM's pay the same
    after NovaOS's). No deployment runs two gateways on one core, so each path
    runs ``block`` requests in a row, preceded by one more that warms it up and
    is not counted (its errors are). The order of paths is shuffled every
    round (fixed seed): in a fixed order the second of two identical
    checkouts in bench.ab was ~0.35 ms faster. ``block`` 1 without a warm-up
    request is plain request-by-request interleaving."""
    paths = [{**spec, **path} for path in spec["interleave"]]
    samples = {path["name"]: Sample() for path in paths}
    channels = []
    workers = {}
    for path in paths:
        if path["kind"] == "novaos_grpc":
            channels.append(channel := grpc.aio.insecure_channel(path["target"]))
            workers[path["name"]] = _grpc_worker(path, chat_pb2_grpc.ChatServiceStub(channel))
        else:
            workers[path["name"]] = _http_worker(path)
    deadline = time.perf_counter() + spec["duration_s"]
    order = list(workers)
    shuffle = random.Random(11).shuffle
    block = max(int(spec.get("block", 1)), 1)
    warm_up = block > 1
    warmed = dict.fromkeys(workers, 0)
    try:
        for _ in range(-(-spec["requests"] // block)):
            if time.perf_counter() > deadline:
                break
            shuffle(order)
            for name in order:
                sample = samples[name]
                if warm_up:
                    warmed[name] += 1
                    scratch = Sample()
                    await _guarded(workers[name], scratch)
                    sample.errors += scratch.errors
                    sample.first_error = sample.first_error or scratch.first_error
                for _ in range(min(block, spec["requests"] - len(sample.latency) - sample.errors)):
                    await _guarded(workers[name], sample)
    finally:
        for channel in channels:
            await channel.close()
    return {
        name: {**_result(sample, 0.0), "warm_up_requests": warmed[name]}
        for name, sample in samples.items()
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    if cpus := spec.get("cpus"):
        os.sched_setaffinity(0, set(cpus))
    result = uvloop.run(run_interleaved(spec) if "interleave" in spec else run(spec))
    # A file, not stdout: large results written to a pipe the loop left
    # non-blocking came out truncated.
    with open(spec["out"], "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
