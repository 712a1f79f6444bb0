"""Incremental Server-Sent Events parser shared by every provider adapter.

Follows the WHATWG event-stream rules: lines end in CRLF, LF or a lone CR;
``:`` starts a comment (keep-alive); ``data`` lines accumulate with ``\\n``;
an empty line dispatches. Bytes may arrive split anywhere, even inside a
UTF-8 character or between the CR and LF of one line ending. An event (or a
line) longer than ``MAX_EVENT_CHARS`` raises ``EventTooLargeError``.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

# The longest event (its data lines, or one line still waiting for its end) a
# parser holds. An event carries a few tokens, at most a whole answer (max_tokens
# is at most 8192); one endless line is an upstream that must not fill memory.
MAX_EVENT_CHARS = 1024 * 1024


class EventTooLargeError(ValueError):
    """An event, or a line without its end, grew past the parser's limit."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str = ""
    retry_ms: int | None = None


# What ``aiter_sse`` yields for a read that brought comment lines (": keep-alive",
# OpenRouter's ": OPENROUTER PROCESSING") but no event: no data, only a sign that
# the upstream is alive, which restarts the stream's idle timer as a ping does.
KEEPALIVE = SSEEvent(data="", event="")


class SSEParser:
    """Feed bytes, get complete events. One parser per stream (it keeps state)."""

    def __init__(self, max_event_chars: int = MAX_EVENT_CHARS) -> None:
        self._limit = max_event_chars
        self._size = 0  # characters of data held for the event under way
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF is its pair
        self._at_start = True
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""
        self._retry: int | None = None
        self.comments = 0  # comment lines read so far

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        return self._consume(self._decoder.decode(chunk))

    def close(self) -> list[SSEEvent]:
        """End of stream: a trailing line without terminator still counts as a line.

        An event not closed by a blank line is dropped, as the spec says.
        """
        events = self._consume(self._decoder.decode(b"", final=True))
        if self._buffer:
            self._line(self._buffer)
            self._buffer = ""
        return events

    def _consume(self, text: str) -> list[SSEEvent]:
        if self._at_start and text:
            self._at_start = False
            text = text.removeprefix("\ufeff")
        if self._skip_lf and text:
            self._skip_lf = False
            text = text.removeprefix("\n")
        buffer = self._buffer + text
        events: list[SSEEvent] = []
        start = 0
        while True:
            end = _line_end(buffer, start)
            if end < 0:
                break
            event = self._line(buffer[start:end])
            if event is not None:
                events.append(event)
            start = end + 1
            if buffer[end] == "\r":
                if start == len(buffer):
                    self._skip_lf = True
                elif buffer[start] == "\n":
                    start += 1
        self._buffer = buffer[start:]
        if len(self._buffer) > self._limit:
            raise EventTooLargeError(f"stream line longer than {self._limit} characters")
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1  # comment / keep-alive: no event, but a sign of life
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._size += len(value) + 1
            if self._size > self._limit:
                raise EventTooLargeError(f"stream event longer than {self._limit} characters")
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        data, event, retry = self._data, self._event, self._retry
        self._data, self._event, self._retry, self._size = [], "", None, 0
        if not data:
            return None
        return SSEEvent(
            data="\n".join(data), event=event or "message", id=self._last_id, retry_ms=retry
        )


def _line_end(buffer: str, start: int) -> int:
    cr = buffer.find("\r", start)
    lf = buffer.find("\n", start)
    if cr < 0:
        return lf
    if lf < 0:
        return cr
    return min(cr, lf)


async def aiter_sse(chunks: AsyncIterator[bytes]) -> AsyncGenerator[SSEEvent, None]:
    """Events of a streaming HTTP body, as its bytes arrive (split anywhere), and
    ``KEEPALIVE`` for a read that brought only comments (with no whole event)."""
    parser = SSEParser()
    try:
        async for chunk in chunks:
            comments = parser.comments
            events = parser.feed(chunk)
            for event in events:
                yield event
            if not events and parser.comments != comments:
                yield KEEPALIVE
    finally:
        # a body given as an async generator is closed now rather than at GC time
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    for event in parser.close():
        yield event
