"""Reading a response body without ever holding more than the cap.

The cap counts *decoded* bytes, and decompression is told how much it may
produce (``max_length``), so a small gzip bomb cannot balloon in memory the
way a plain ``decompress(chunk)`` would let it.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

from novaos.webfetch.errors import FetchBlockedError, FetchTooLargeError

ENCODING = "content_encoding"
TOO_LARGE = "max_bytes"
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate"})


class _Inflater:
    """gzip with every member (``cat a.gz b.gz`` is one valid body), or
    deflate either zlib-wrapped (RFC 9110) or raw, as servers send both."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding != "deflate"
        self._zlib: zlib._Decompress | None = None
        self._head = b""  # deflate: the first bytes, until the wrapper can be told from raw

    def feed(self, data: bytes, limit: int) -> bytes:
        """Decode ``data``, producing at most ``limit`` + 1 bytes (enough to see overflow)."""
        out = b""
        try:
            while data and len(out) <= limit:
                if self._zlib is None or self._zlib.eof:
                    data = self._start(data)
                    if not data:
                        break
                assert self._zlib is not None
                out += self._zlib.decompress(data, limit + 1 - len(out))
                data = self._zlib.unused_data if self._zlib.eof else b""
        except zlib.error as exc:
            raise FetchBlockedError(ENCODING, result="error") from exc
        return out

    def finish(self) -> None:
        """The body ended: a stream cut short (a truncated gzip) is an error."""
        started = self._zlib is not None or self._head
        if started and (self._zlib is None or not self._zlib.eof):
            raise FetchBlockedError(ENCODING, result="error")

    def _start(self, data: bytes) -> bytes:
        """Begin the next stream; the bytes it should decode (b"": wait for more)."""
        if self._gzip:
            if self._zlib is not None:
                data = data.lstrip(b"\0")  # zero padding between members, as gzip(1) allows
            if data:
                self._zlib = zlib.decompressobj(_GZIP_WBITS)
            return data
        if self._zlib is not None:
            return b""  # after a complete deflate stream: nothing more to read
        self._head += data
        if len(self._head) < 2:
            return b""
        data, self._head = self._head, b""
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS if _zlib_wrapped(data) else -zlib.MAX_WBITS)
        return data


def _zlib_wrapped(data: bytes) -> bool:
    """RFC 1950's header: method 8 (deflate), window <= 32 KB, check bits."""
    return data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and (data[0] << 8 | data[1]) % 31 == 0


async def read_capped(
    chunks: AsyncIterator[bytes], *, encoding: str, max_bytes: int, declared_length: int | None
) -> bytes:
    """Collect the decoded body; raise ``FetchTooLargeError`` past ``max_bytes``."""
    encoding = encoding.strip().lower()
    if encoding not in ("", "identity") and encoding not in _ENCODINGS:
        raise FetchBlockedError(ENCODING, result="error")
    if encoding in ("", "identity") and declared_length is not None and declared_length > max_bytes:
        raise FetchTooLargeError(TOO_LARGE)  # no need to read a byte of it
    inflater = _Inflater(encoding) if encoding in _ENCODINGS else None
    body = bytearray()
    async for chunk in chunks:
        decoded = chunk if inflater is None else inflater.feed(chunk, max_bytes - len(body))
        body += decoded
        if len(body) > max_bytes:
            raise FetchTooLargeError(TOO_LARGE)
    if inflater is not None:
        inflater.finish()
    return bytes(body)
