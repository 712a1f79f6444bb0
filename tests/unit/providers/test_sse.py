"""The SSE parser against the event-stream rules, at every possible chunk split."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from novaos.providers.sse import KEEPALIVE, EventTooLargeError, SSEEvent, SSEParser, aiter_sse

# Mixed line endings, a BOM, comments, multi-line data, multi-byte UTF-8 and every field.
SAMPLE = (
    "\ufeff: keep-alive comment\r\n"
    "event: message_start\r\n"
    'data: {"type":"message_start"}\r\n'
    "\r\n"
    "id: 7\n"
    "data: first line\n"
    "data:second line without space\n"
    "data\n"
    "\n"
    ":ping\r"
    "retry: 1500\r"
    "data: héllo ✓ 🙂 naïve\r"
    "\r"
    "event: empty-data-is-not-dispatched\n"
    "\n"
    "data: [DONE]\r\n"
    "\r\n"
).encode()

EXPECTED = [
    SSEEvent(data='{"type":"message_start"}', event="message_start"),
    SSEEvent(data="first line\nsecond line without space\n", id="7"),
    SSEEvent(data="héllo ✓ 🙂 naïve", id="7", retry_ms=1500),
    SSEEvent(data="[DONE]", id="7"),
]


def parse(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events + parser.close()


def test_whole_sample_parses_to_the_expected_events() -> None:
    assert parse([SAMPLE]) == EXPECTED


def test_every_split_position_gives_the_same_events() -> None:
    for cut in range(len(SAMPLE) + 1):
        assert parse([SAMPLE[:cut], SAMPLE[cut:]]) == EXPECTED, f"split at byte {cut}"


def test_one_byte_at_a_time() -> None:
    assert parse([SAMPLE[i : i + 1] for i in range(len(SAMPLE))]) == EXPECTED


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(SAMPLE)), max_size=12))
def test_any_set_of_splits(cuts: list[int]) -> None:
    points = sorted({0, len(SAMPLE), *cuts})
    assert parse([SAMPLE[a:b] for a, b in itertools.pairwise(points)]) == EXPECTED


def test_cr_then_lf_in_the_next_chunk_is_one_line_end() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\n\r") == [SSEEvent(data="a")]
    assert parser.feed(b"\ndata: b\n\n") == [SSEEvent(data="b")]


def test_unterminated_event_at_end_of_stream_is_dropped() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: complete\n\ndata: partial") == [SSEEvent(data="complete")]
    assert parser.close() == []


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert parse([b"data: \xff\xfe ok\n\n"]) == [SSEEvent(data="\ufffd\ufffd ok")]


def test_bad_retry_and_id_with_nul_are_ignored() -> None:
    events = parse([b"retry: soon\nid: a\x00b\ndata: x\n\n"])
    assert events == [SSEEvent(data="x", id="", retry_ms=None)]


def test_a_line_longer_than_the_limit_raises_however_it_arrives() -> None:
    parser = SSEParser(max_event_chars=10)
    assert parser.feed(b"data: 1234") == []  # 10 characters: still within
    with pytest.raises(EventTooLargeError, match="stream line longer than 10"):
        parser.feed(b"5")


def test_the_limit_is_per_event_not_per_stream() -> None:
    parser = SSEParser(max_event_chars=10)
    events = [e for _ in range(5) for e in parser.feed(b"data: 1234\ndata: 5\n\n")]
    assert events == [SSEEvent(data="1234\n5")] * 5
    with pytest.raises(EventTooLargeError, match="stream event longer than 10"):
        parser.feed(b"data: 1234\ndata: 567\ndata: 8\n")


async def test_a_read_of_comments_alone_is_a_keepalive_never_an_event() -> None:
    # The idle timer of a stream restarts on it (an upstream queueing the call
    # sends ": keep-alive" or ": OPENROUTER PROCESSING"); before, comments were
    # dropped here and the stream was declared stalled.
    async def body() -> AsyncIterator[bytes]:
        for chunk in (
            b": keep-alive\n\n",
            b": OPENROUTER PROCESSING\n",
            b"data: a\n\n",
            b": x\ndata",
        ):
            yield chunk

    got = [event async for event in aiter_sse(body())]
    assert got == [KEEPALIVE, KEEPALIVE, SSEEvent(data="a"), KEEPALIVE]
    assert got[0] is KEEPALIVE
