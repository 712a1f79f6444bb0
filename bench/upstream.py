"""A fast mock OpenAI-compatible upstream: raw HTTP/1.1 on asyncio (uvloop).

    python -m bench.upstream --port 18000 --latency-ms 10 --token-ms 2 --tokens 64

POST /v1/chat/completions starts answering after ``latency-ms``; with ``"stream": true``
it sends SSE chunks (one token each, ``token-ms`` apart, chunked encoding), a
usage chunk and ``data: [DONE]``. A non-streaming answer comes when the
stream would have ended (generation time is the same), so a gateway that
streams from its upstream is compared fairly. Anything else gets a 404. Keep-alive always.
Hand-rolled rather than a framework so the baseline measures the wire, not a
web framework's overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvloop

WORDS = ("tidy", "the", "desk", "first", "then", "sort", "papers", "and", "rest", "well")


@dataclass(frozen=True)
class Pace:
    latency_s: float
    token_s: float
    tokens: int


def _tokens(n: int) -> list[str]:
    """Words with a full stop every eighth: real answers have sentences, and a
    gateway that releases text by sentence (NovaOS) shows its true cadence."""
    return [" " + WORDS[i % len(WORDS)] + ("." if i % 8 == 7 else "") for i in range(n)]


def _completion(model: str, text: str, n: int) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n},
    }
    return json.dumps(body).encode()


def _chunk(payload: dict[str, object]) -> bytes:
    data = b"data: " + json.dumps(payload).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


def _delta(model: str, token: str, finish: str | None) -> bytes:
    choice = {"index": 0, "delta": {"content": token}, "finish_reason": finish}
    return _chunk(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "model": model,
            "choices": [choice],
        }
    )


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1] if " " in lines[0] else ""
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return path, body


async def _paced(pace: Pace) -> AsyncIterator[tuple[int, str]]:
    """The answer's tokens, token i due ``i * token_s`` after the first. Each wait
    runs to the next due time, not for a fixed pause, so timer overshoot does not
    add up over the answer (48 one-millisecond sleeps ran ~4 ms long here), and
    a stream ends when the whole answer, paced by the same steps, is sent."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, token in enumerate(_tokens(pace.tokens)):
        if i and pace.token_s:
            await asyncio.sleep(max(0.0, start + i * pace.token_s - loop.time()))
        yield i, token


async def _stream(writer: asyncio.StreamWriter, model: str, pace: Pace) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    last = pace.tokens - 1
    async for i, token in _paced(pace):
        writer.write(_delta(model, token, "stop" if i == last else None))
        await writer.drain()
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": pace.tokens,
        "total_tokens": 12 + pace.tokens,
    }
    writer.write(
        _chunk(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [],
                "usage": usage,
            }
        )
    )
    done = b"data: [DONE]\n\n"
    writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
    await writer.drain()


def _respond(writer: asyncio.StreamWriter, status: str, body: bytes) -> None:
    writer.write(
        b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
        % (status.encode(), len(body), body)
    )


async def _serve_one(path: str, body: bytes, writer: asyncio.StreamWriter, pace: Pace) -> None:
    if not path.endswith("/chat/completions"):
        _respond(writer, "404 Not Found", b'{"error":{"message":"not found"}}')
        return
    request = json.loads(body or b"{}")
    model = str(request.get("model", "bench-model"))
    if pace.latency_s:
        await asyncio.sleep(pace.latency_s)
    if request.get("stream"):
        await _stream(writer, model, pace)
    else:  # a whole answer is ready when its stream's last token would be
        text = "".join([token async for _, token in _paced(pace)])
        _respond(writer, "200 OK", _completion(model, text, pace.tokens))


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pace: Pace) -> None:
    try:
        while (request := await _read_request(reader)) is not None:
            await _serve_one(*request, writer, pace)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(host: str, port: int, pace: Pace) -> None:
    server = await asyncio.start_server(lambda r, w: _handle(r, w, pace), host, port, backlog=1024)
    print(f"upstream listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="mock OpenAI-compatible upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--token-ms", type=float, default=2.0)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args(argv)
    pace = Pace(args.latency_ms / 1000, args.token_ms / 1000, args.tokens)
    uvloop.run(serve(args.host, args.port, pace))


if __name__ == "__main__":
    main()
