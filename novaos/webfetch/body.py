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
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class _Inflater:
    def __init__(self, encoding: str) -> None:
        self._zlib = zlib.decompressobj(_WBITS[encoding])

    def feed(self, data: bytes, limit: int) -> bytes:
        """Decode ``data``, producing at most ``limit`` + 1 bytes (enough to see overflow)."""
        try:
            return self._zlib.decompress(data, limit + 1)
        except zlib.error as exc:
            raise FetchBlockedError(ENCODING, result="error") from exc


async def read_capped(
    chunks: AsyncIterator[bytes], *, encoding: str, max_bytes: int, declared_length: int | None
) -> bytes:
    """Collect the decoded body; raise ``FetchTooLargeError`` past ``max_bytes``."""
    encoding = encoding.strip().lower()
    if encoding not in ("", "identity") and encoding not in _WBITS:
        raise FetchBlockedError(ENCODING, result="error")
    if encoding in ("", "identity") and declared_length is not None and declared_length > max_bytes:
        raise FetchTooLargeError(TOO_LARGE)  # no need to read a byte of it
    inflater = _Inflater(encoding) if encoding in _WBITS else None
    body = bytearray()
    async for chunk in chunks:
        decoded = chunk if inflater is None else inflater.feed(chunk, max_bytes - len(body))
        body += decoded
        if len(body) > max_bytes:
            raise FetchTooLargeError(TOO_LARGE)
    return bytes(body)
