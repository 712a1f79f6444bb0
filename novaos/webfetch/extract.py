"""Turning an allowed response body into a short plain-text extract.

HTML goes through lexbor (selectolax), a real HTML5 parser: regexes over HTML
miss comments, CDATA and unclosed tags, and would pass script text on to the
model as if it were page content.
"""

from __future__ import annotations

import codecs
from email.message import Message

from selectolax.lexbor import LexborHTMLParser

from novaos.webfetch.errors import FetchBlockedError

CONTENT_TYPE = "content_type"
_HTML = frozenset({"text/html", "application/xhtml+xml"})
_PLAIN = frozenset({"text/plain", "application/json"})
# Page chrome and non-text: dropped before the text is read.
_DROPPED_TAGS = [
    "script", "style", "nav", "noscript", "noembed", "noframes", "template", "svg",
    "iframe", "object", "header", "footer", "aside", "form", "button",
]  # fmt: skip


def media_type(header: str) -> tuple[str, str]:
    """``'text/HTML; charset=UTF-8'`` -> ``('text/html', 'utf-8')``; charset may be ''."""
    message = Message()
    message["content-type"] = header
    charset = message.get_param("charset")
    return message.get_content_type(), charset.lower() if isinstance(charset, str) else ""


def check_media_type(header: str) -> str:
    """The media type when it is on the allowlist; else ``FetchBlockedError``.

    The header must name a type/subtype itself: the email parser reads one it
    cannot parse ("image") as text/plain."""
    kind, _ = media_type(header)
    named = header.split(";", 1)[0].strip()
    if "/" not in named or not (kind in _HTML or kind in _PLAIN or kind.endswith("+json")):
        raise FetchBlockedError(CONTENT_TYPE)
    return kind


def extract_text(body: bytes, content_type: str, *, max_chars: int) -> str:
    """Readable text of ``body``, whitespace collapsed, at most ``max_chars``."""
    kind, charset = media_type(content_type)
    text = _html_text(body, charset) if kind in _HTML else _decode(body, charset or "utf-8")
    return _bounded(" ".join(text.split()), max_chars)


def _html_text(body: bytes, charset: str) -> str:
    # Without a declared charset lexbor sniffs <meta charset> itself.
    tree = (
        LexborHTMLParser(_decode(body, charset))
        if charset
        else LexborHTMLParser(body, encoding=True)
    )
    tree.strip_tags(_DROPPED_TAGS)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node is not None else ""
    body_node = tree.body
    content = body_node.text(separator=" ") if body_node is not None else ""
    return f"{title}\n{content}" if title else content


def _decode(body: bytes, charset: str) -> str:
    try:
        # Only text encodings: "base64", "rot13" or "zlib" are codecs too, but
        # bytes.decode refuses them (a server could fail every fetch with one).
        if not codecs.lookup(charset)._is_text_encoding:
            charset = "utf-8"
    except LookupError:
        charset = "utf-8"  # an unknown label is not worth failing the fetch for
    return body.decode(charset, errors="replace")


def _bounded(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    if space > max_chars // 2:  # end on a word boundary when one is near
        cut = cut[:space]
    return cut + "…"
