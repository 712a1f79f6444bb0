"""Provider text that gRPC and the audit log can encode.

Answer text decoded from JSON escapes can hold half of a UTF-16 surrogate pair:
some servers split an emoji's pair across two stream chunks, and a broken one
sends a lone half. Neither encodes as UTF-8, so the gRPC reply (and the audit
record) would fail on it. ``SurrogateJoiner`` joins a pair split across chunks
and turns any other lone half into U+FFFD.
"""

from __future__ import annotations

from dataclasses import replace

from novaos.ports import ProviderChunk

_REPLACEMENT = "\ufffd"


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean(text: str) -> str:
    """``text`` with every lone surrogate replaced (pairs become their character)."""
    if _encodable(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class SurrogateJoiner:
    """One stream's text, chunk by chunk: a high surrogate ending one chunk waits
    for the low one that starts the next."""

    __slots__ = ("_high",)

    def __init__(self) -> None:
        self._high = ""

    def text(self, text: str) -> str:
        if self._high:
            text, self._high = self._high + text, ""
        if _encodable(text):
            return text
        if "\ud800" <= text[-1] <= "\udbff":
            text, self._high = text[:-1], text[-1]
        return clean(text)

    def chunk(self, chunk: ProviderChunk) -> ProviderChunk | None:
        """The chunk to pass on (None when all it held was half a pair)."""
        if not chunk.text:
            return chunk
        text = self.text(chunk.text)
        if text is chunk.text:
            return chunk
        if not (text or chunk.usage or chunk.finish_reason or chunk.reported or chunk.reasoning):
            return None
        return replace(chunk, text=text)

    def last(self, chunk: ProviderChunk) -> ProviderChunk:
        """The stream's final chunk, carrying a half pair that never completed."""
        if not self._high:
            return chunk
        self._high = ""
        text = chunk.text + _REPLACEMENT
        return ProviderChunk(text, chunk.usage, chunk.finish_reason, chunk.provider, chunk.model)
