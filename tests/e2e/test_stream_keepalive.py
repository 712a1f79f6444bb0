"""Keepalives on StreamChat: nothing released for a while, the client still hears from us.

A slow upstream (fake OpenAI on loopback, real adapter) drips words of one
sentence, so the output check holds all of them; the stream must not go quiet
for longer than the sidecar's idle timeout tolerates.
"""

from __future__ import annotations

import time

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.config import load_settings
from tests.fixtures.fake_providers import Reply, StartServer, paced
from tests.fixtures.provider_wire import openai_stream
from tests.fixtures.server import BASE_ENV, bearer, mint, running_app

IDLE_MS = 1000
TOKENS = ["one ", "sentence ", "that ", "takes ", "its ", "time ", "to ", "end."]


def test_keepalive_interval_is_below_the_sidecar_idle_timeout() -> None:
    for idle_ms in ("1", "1000", "30000", "600000"):
        settings = load_settings({**BASE_ENV, "STREAM_IDLE_TIMEOUT_MS": idle_ms})
        envoy_idle_s = settings.stream_idle_timeout_ms / 1000 + 5
        assert 0 < settings.stream_keepalive_s <= envoy_idle_s / 2


async def test_keepalive_arrives_while_text_is_held(fake_server: StartServer) -> None:
    upstream = await fake_server()
    parts = paced(openai_stream(TOKENS, (9, len(TOKENS))), 0.3)
    upstream.default = Reply(body=parts)
    body_parts = sum(isinstance(p, bytes) for p in parts)
    env = {
        "PREFERRED_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": upstream.url + "/v1",
        "STREAM_IDLE_TIMEOUT_MS": str(IDLE_MS),
    }
    async with running_app(**env) as running:
        interval_s = running.app.settings.stream_keepalive_s
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        kinds: list[str] = []
        text: list[str] = []
        done = chat_pb2.Completed()
        held_at_keepalive: list[tuple[int, int]] = []  # (deltas so far, upstream parts sent)
        gaps: list[float] = []
        last = time.monotonic()
        async for event in stub.StreamChat(
            chat_pb2.StreamChatRequest(message="hello"), metadata=bearer(mint())
        ):
            now = time.monotonic()
            gaps.append(now - last)
            last = now
            kind = event.WhichOneof("event")
            if kind == "keepalive" and "delta" not in kinds:
                held_at_keepalive.append((kinds.count("delta"), upstream.parts_sent))
            kinds.append(kind)
            if kind == "delta":
                text.append(event.delta.text)
            elif kind == "completed":
                done = event.completed
    assert held_at_keepalive, kinds
    # The provider was mid-answer and nothing had been released: text was being held.
    deltas, sent = held_at_keepalive[0]
    assert deltas == 0 and 1 < sent < body_parts
    assert kinds.count("completed") == 1 and kinds[-1] == "completed"
    assert done.outcome == chat_pb2.OUTCOME_COMPLETED
    assert "".join(text) == "".join(TOKENS)
    # Never silent for much longer than the interval (scheduling slack allowed).
    assert max(gaps) < interval_s + 0.25, (gaps, interval_s)
