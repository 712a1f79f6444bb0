"""An upstream cannot make the gateway buffer without end.

A whole (non-streamed) answer is read up to ``BODY_LIMIT``, counted as it
arrives: with a Content-Length, chunked, or compressed; its text is held to
``MAX_ANSWER_CHARS`` as a stream's, and to ``MAX_ANSWER_BYTES`` of UTF-8. A stream holds at most
``MAX_EVENT_CHARS`` of one event or one unended line, and brings at most
``MAX_ANSWER_CHARS`` of answer text in all. Past any of these, the call
fails as a provider error (``too_large``: a breaker failure; the router moves
on while no text has gone out), its connection dropped rather than drained;
never INTERNAL.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator

import pytest

from novaos.ports import Provider
from novaos.providers import errors as perr
from novaos.providers.http import BODY_LIMIT, MAX_ANSWER_BYTES, MAX_ANSWER_CHARS
from novaos.providers.sse import MAX_EVENT_CHARS
from tests.fixtures.fake_providers import FakeProviderServer, Part, Reply, Stall, StartServer
from tests.fixtures.provider_wire import KITS, openai_json
from tests.integration.providers.test_adapters import HTTP, REQUEST, collect

COMPAT = next(k for k in KITS if k.name == "openai_compat")
PIECE = 256 * 1024


@pytest.fixture
async def upstream(fake_server: StartServer) -> AsyncIterator[tuple[FakeProviderServer, Provider]]:
    server = await fake_server()
    provider = COMPAT.build(server.url, HTTP)
    yield server, provider
    await provider.aclose()


def _huge_answer() -> bytes:
    """A well-formed answer, just far too long."""
    return openai_json("x" * (BODY_LIMIT + 1024), (5, 5))


def _pieces(body: bytes) -> list[Part]:
    return [body[i : i + PIECE] for i in range(0, len(body), PIECE)]


BODIES = {
    "content-length": Reply(body=_huge_answer()),
    "chunked": Reply(body=_pieces(_huge_answer()), content_type="application/json"),
    # A few KB on the wire, more than the limit once inflated.
    "gzip": Reply(body=gzip.compress(_huge_answer()), headers={"content-encoding": "gzip"}),
}


@pytest.mark.parametrize("reply", BODIES.values(), ids=BODIES.keys())
async def test_an_oversized_whole_answer_is_a_provider_error(
    upstream: tuple[FakeProviderServer, Provider], reply: Reply
) -> None:
    server, provider = upstream
    server.queue(reply, Reply(body=openai_json("Fine.", (5, 1))))
    with pytest.raises(perr.ResponseTooLargeError) as caught:
        await provider.complete(REQUEST)
    assert caught.value.kind == "too_large" and caught.value.counts_as_failure
    assert "larger than 8 MiB" in str(caught.value)
    assert (await provider.complete(REQUEST)).text == "Fine."  # no slot or connection leaked


async def test_a_whole_answer_at_the_limit_is_read(
    upstream: tuple[FakeProviderServer, Provider],
) -> None:
    # Its text within the answer's own limits: each emoji is one character, four
    # bytes of UTF-8 and twelve of JSON ("\ud83d\ude42").
    server, provider = upstream
    room = BODY_LIMIT - len(openai_json("", (5, 5)))
    text = "\U0001f642" * (room // 12) + "y" * (room % 12)
    body = openai_json(text, (5, 5))
    assert len(body) == BODY_LIMIT
    server.queue(Reply(body=_pieces(body), content_type="application/json"))
    assert (await provider.complete(REQUEST)).text == text


TOO_LONG = {
    # A unary answer was read up to BODY_LIMIT: 5 MB of text held the event loop for
    # seconds in the output check, and the reply was over a gRPC client's 4 MiB
    # receive limit while the audit said "completed".
    "characters": "x" * (MAX_ANSWER_CHARS + 1),
    "bytes": "\U0001f642" * (MAX_ANSWER_BYTES // 4 + 1),  # fewer characters, 4 bytes each
}


@pytest.mark.parametrize("text", TOO_LONG.values(), ids=TOO_LONG.keys())
async def test_a_whole_answer_is_capped_as_a_stream_is(
    upstream: tuple[FakeProviderServer, Provider], text: str
) -> None:
    server, provider = upstream
    body = json.dumps(json.loads(openai_json(text, (5, 5))), ensure_ascii=False).encode()
    server.queue(Reply(body=body), Reply(body=openai_json("Fine.", (5, 1))))
    with pytest.raises(perr.ResponseTooLargeError) as caught:
        await provider.complete(REQUEST)
    assert caught.value.kind == "too_large" and caught.value.accepted  # charged, moved on from
    assert f"answer longer than {MAX_ANSWER_CHARS} characters or 3 MiB" in str(caught.value)
    assert (await provider.complete(REQUEST)).text == "Fine."


async def test_a_whole_answer_up_to_the_cap_is_read(
    upstream: tuple[FakeProviderServer, Provider],
) -> None:
    server, provider = upstream
    text = "x" * MAX_ANSWER_CHARS
    server.queue(Reply(body=openai_json(text, (5, 5))))
    assert (await provider.complete(REQUEST)).text == text


ENDLESS: dict[str, list[Part]] = {
    # One line that never ends (held open after it, so only the limit can end it).
    "line": [b"data: " + b"x" * PIECE for _ in range(MAX_EVENT_CHARS // PIECE + 2)] + [Stall()],
    # Lines that do end, in one event that never does.
    "event": [b"data: " + b"x" * PIECE + b"\n" for _ in range(MAX_EVENT_CHARS // PIECE + 2)]
    + [Stall()],
}


@pytest.mark.parametrize("what", ENDLESS.keys())
async def test_an_endless_stream_event_is_a_provider_error(
    upstream: tuple[FakeProviderServer, Provider], what: str
) -> None:
    server, provider = upstream
    server.queue(Reply(body=ENDLESS[what]))
    with pytest.raises(perr.ResponseTooLargeError) as caught:
        await collect(provider)
    assert f"stream {what} longer than {MAX_EVENT_CHARS} characters" in str(caught.value)


async def test_a_long_event_within_the_limit_streams(
    upstream: tuple[FakeProviderServer, Provider],
) -> None:
    # A server that sends its whole answer as one event (some compatible ones do).
    server, provider = upstream
    text = "z" * (MAX_EVENT_CHARS - 1024)
    parts = [bytes(p) for p in COMPAT.stream([text], None)]
    server.queue(Reply(body=[b"".join(parts)]))
    chunks = await collect(provider)
    assert "".join(c.text for c in chunks) == text


async def test_an_endless_answer_of_small_events_is_a_provider_error(
    upstream: tuple[FakeProviderServer, Provider],
) -> None:
    # Every event well within its limit, the answer without end: only the total
    # timeout stopped it, while the answer text piled up in the gateway.
    server, provider = upstream
    piece = "w" * 1024
    tokens = [piece] * (MAX_ANSWER_CHARS // len(piece) + 2)
    parts = [bytes(p) for p in COMPAT.stream(tokens, None)][: len(tokens) + 1]
    server.queue(Reply(body=[*parts, Stall()]))
    with pytest.raises(perr.ResponseTooLargeError) as caught:
        await collect(provider)
    assert f"stream answer longer than {MAX_ANSWER_CHARS} characters" in str(caught.value)


async def test_an_answer_of_many_events_up_to_the_limit_streams(
    upstream: tuple[FakeProviderServer, Provider],
) -> None:
    server, provider = upstream
    piece = "v" * 1024
    tokens = [piece] * (MAX_ANSWER_CHARS // len(piece))
    server.queue(Reply(body=[b"".join(bytes(p) for p in COMPAT.stream(tokens, None))]))
    chunks = await collect(provider)
    assert len("".join(c.text for c in chunks)) == MAX_ANSWER_CHARS
