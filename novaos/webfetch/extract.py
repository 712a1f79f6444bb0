"""Turning an allowed response body into a short plain-text extract.

HTML goes through lexbor (selectolax), a real HTML5 parser: regexes over HTML
miss comments, CDATA and unclosed tags, and would pass script text on to the
model as if it were page content.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from email.message import Message

from selectolax.lexbor import LexborHTMLParser, LexborNode

from novaos.webfetch.charsets import codec_for_label
from novaos.webfetch.errors import FetchBlockedError
from novaos.webfetch.markup import bound_markup

CONTENT_TYPE = "content_type"
_HTML = frozenset({"text/html", "application/xhtml+xml"})
_PLAIN = frozenset({"text/plain", "application/json"})
# Page chrome and non-text: dropped before the text is read. What stood on
# either side of one is still separate words (most are blocks on the page).
_DROPPED_TAGS = [
    "script", "style", "nav", "noscript", "noembed", "noframes", "template", "svg",
    "iframe", "object", "header", "footer", "aside", "form", "button",
]  # fmt: skip
# Replaced and void elements drawn as a box of their own (an image, a field, a
# player): "foo<img>bar" shows two words, not "foobar".
_REPLACED_TAGS = ["audio", "canvas", "embed", "img", "input", "meter", "progress", "video"]
# Elements a browser lays out as their own block, line or cell: text on either
# side of one is separate words. Everything else (spans, links, <b>, <sub>,
# <wbr>, comments) joins its text to its neighbours' as the page shows it, so
# "pi<span>pe</span>" reads "pipe", not "pi pe" (which hid a weapon recipe
# from the source screen while the model read it fine).
_BLOCK_TAGS = frozenset(
    [
        "address", "article", "blockquote", "br", "caption", "center", "col",
        "colgroup", "dd", "details", "dialog", "dir", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6",
        "hgroup", "hr", "legend", "li", "listing", "main", "menu", "ol", "optgroup",
        "option", "p", "plaintext", "pre", "rp", "rt", "search", "section", "select",
        "summary", "table", "tbody", "td", "textarea", "tfoot", "th", "thead", "tr", "ul", "xmp",
    ]
)  # fmt: skip
_SEPARATED = _BLOCK_TAGS | frozenset(_DROPPED_TAGS) | frozenset(_REPLACED_TAGS)
_CELLS = frozenset({"td", "th"})
_SECTIONS = frozenset({"thead", "tbody", "tfoot"})
_EXPONENT = re.compile(r"\s*[-+\u2212]?\d")
_DIGIT_END = re.compile(r"\d\s*$")
# A table's open and close edges and its cell and row marks, as ``_separate_blocks``
# inserts them for ``_tidy_marks`` (behind a NUL: lexbor reads one in the
# page's text as U+FFFD, so only these are left, and a page's own "|" or ";"
# is its text); the marks become " | " and " ; " there.
_OPEN, _CLOSE, _CELL, _ROW = "\x00<", "\x00>", "\x00|", "\x00;"
_TABLE_TOKEN = re.compile(r"\x00[<>|;]")
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
# Where the HTML standard looks for a declared charset: a <meta> in the first 1024 bytes.
_META_CHARSET = re.compile(rb"<meta[^>]*?charset[\t\n\f\r ]*=[\t\n\f\r ]*[\"']?([\w.:-]+)", re.I)


# Terminal escapes (CSI "ESC [ ... m", OSC "ESC ] ... BEL"), then single
# characters that are invisible or steer how text is shown: C0/C1 controls
# (tab and newlines kept), bidi embeddings, overrides and isolates, zero-width
# characters and the Unicode tag block ("ASCII smuggling" for prompts).
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_]?)")
_INVISIBLE = dict.fromkeys(
    [
        *range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0),
        0x061C, *range(0x200B, 0x2010), *range(0x202A, 0x202F), 0x2060,
        *range(0x2066, 0x206A), 0xFEFF, *range(0xE0000, 0xE0080),
    ]
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Extract:
    text: str
    cut: bool = False  # the page was read only up to the markup bounds (``markup.py``)


def media_type(header: str) -> tuple[str, str]:
    """``'text/HTML; charset=UTF-8'`` -> ``('text/html', 'utf-8')``; charset may be ''."""
    message = Message()
    message["content-type"] = header
    charset = message.get_param("charset")
    return message.get_content_type(), charset.lower() if isinstance(charset, str) else ""


def check_media_type(header: str) -> str:
    """The media type when it is on the allowlist; else ``FetchBlockedError``.

    The header must name that type/subtype itself: the email parser reads one
    it cannot parse ("image", "image/png,text/html") as text/plain."""
    kind, _ = media_type(header)
    named = header.split(";", 1)[0].strip().lower()
    if named != kind or not (kind in _HTML or kind in _PLAIN or kind.endswith("+json")):
        raise FetchBlockedError(CONTENT_TYPE)
    return kind


def read_page(body: bytes, content_type: str, *, max_chars: int) -> Extract:
    """Readable text of ``body``, whitespace collapsed, at most ``max_chars``.

    CPU-bound (up to about half a second for hostile HTML at the 1 MB cap):
    callers on an event loop run it in a worker thread."""
    kind, charset = media_type(content_type)
    if kind not in _HTML:
        text = _bom_decoded(body)
        if text is None:
            text = _decode(body, charset or "utf-8")
        return Extract(_bounded(_readable(text), max_chars))
    bounded = bound_markup(_html_source(body, charset))
    text = _bounded(_readable(_html_text(bounded.html)), max_chars)
    if bounded.cut and text and not text.endswith("…"):
        text = _bounded(text, max_chars - 1) + "…"
    return Extract(text, cut=bounded.cut)


def extract_text(body: bytes, content_type: str, *, max_chars: int) -> str:
    return read_page(body, content_type, max_chars=max_chars).text


def _bom_decoded(body: bytes) -> str | None:
    """The body decoded as its byte-order mark says, or None without one.

    A mark decides before any label, as in browsers (the HTML standard's
    encoding sniffing, step 1): a UTF-8 page with a mark served as
    ``charset=iso-8859-1`` is UTF-8."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    return None


def _html_source(body: bytes, charset: str) -> str:
    """The page as text: a byte-order mark, else the header's charset, else
    ``<meta charset>``, else UTF-8 (as lexbor's own detection decides)."""
    text = _bom_decoded(body)
    if text is not None:
        return text
    if charset:
        return _decode(body, charset)
    meta = _META_CHARSET.search(body, 0, 1024)
    declared = meta.group(1).decode("ascii").lower() if meta else "utf-8"
    if declared.startswith("utf-16"):  # a page read as ASCII cannot be UTF-16: the spec says UTF-8
        declared = "utf-8"
    return _decode(body, declared)


def _html_text(html: str) -> str:
    tree = LexborHTMLParser(html)
    body_node = tree.body
    if body_node is not None:
        _separate_blocks(body_node)
    tree.strip_tags(_DROPPED_TAGS)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node is not None else ""
    content = _tidy_marks(body_node.text(separator="")) if body_node is not None else ""
    return f"{title}\n{content}" if title else content


def _tidy_marks(text: str) -> str:
    """The cell and row marks only between cells and rows that hold text: a
    run of them (empty cells, spacer rows) is one mark, a row's when it holds
    one, and none at either end of its own table ("; ; ;" for a table of empty
    rows was text). A mark before an inner table or after one is the outer
    table's and stays ("12 | 500" for a cell holding a table)."""
    tokens = list(_TABLE_TOKEN.finditer(text))
    gaps = [text[a:b].strip() != "" for a, b in _gaps(tokens, len(text))]
    keep = _text_on_one_side(tokens, gaps, _OPEN, _CLOSE)
    after = _text_on_one_side(tokens[::-1], gaps[::-1], _CLOSE, _OPEN)[::-1]
    out: list[str] = []
    pending = ""  # the mark that stands before the next text
    done = 0
    for i, token in enumerate(tokens):
        if gaps[i]:
            out += [pending, text[done : token.start()]]
            pending = ""
        mark = token.group()
        if mark in (_OPEN, _CLOSE):
            out.append(" ")
        elif keep[i] and after[i]:
            pending = " ; " if mark == _ROW or pending == " ; " else " | "
        done = token.end()
    out += [pending if gaps[-1] else "", text[done:]]
    return "".join(out)


def _gaps(tokens: list[re.Match[str]], length: int) -> list[tuple[int, int]]:
    """The text before each token, and after the last."""
    starts = [0, *(token.end() for token in tokens)]
    ends = [*(token.start() for token in tokens), length]
    return list(zip(starts, ends, strict=True))


def _text_on_one_side(
    tokens: list[re.Match[str]], gaps: list[bool], opening: str, closing: str
) -> list[bool]:
    """For each token read in this order, whether text stands between it and
    the edge of its own table that was read before it (the page's start
    outside any table); text in an inner table counts as its cell's."""
    seen = 0  # text gaps read so far
    at_edge = [0]  # ``seen`` at each open table's edge
    found: list[bool] = []
    for i, token in enumerate(tokens):
        seen += gaps[i]
        edge = token.group()
        if edge == opening:
            at_edge.append(seen)
        elif edge == closing and len(at_edge) > 1:
            at_edge.pop()
        found.append(seen > at_edge[-1])
    return found


def _separate_blocks(body: LexborNode) -> None:
    """Mark the body so its text joins as a browser lays it out: a space
    around each block, replaced element and dropped element (once it is
    gone, its neighbours must not join), nothing between inline pieces.

    Figures keep their meaning on the one line the extract is: a cell after
    another is marked ``|`` and a row after another ``;`` ("3 | 250.00", not
    "3 250.00", which reads as 3,250.00), and a superscript number after a
    digit ``^`` ("10^8", not "108")."""
    marked = [node for node in body.traverse() if node.tag in _SEPARATED or node.tag == "sup"]
    for node in marked:  # marked after the walk: the tree is not changed under it
        if node.tag == "sup":
            if _EXPONENT.match(_own_text(node.child)) and _DIGIT_END.search(_text_before(node)):
                node.insert_before("^")
            continue
        node.insert_before(" ")
        if node.tag in _CELLS and _previous(node, _CELLS) is not None:
            node.insert_before(_CELL + " ")
        elif node.tag == "tr" and _follows_a_row(node):
            node.insert_before(_ROW + " ")
        elif node.tag == "table":  # marks never reach past its edges
            node.insert_before(_OPEN + " ")
            node.insert_after(" " + _CLOSE)
        node.insert_after(" ")


def _previous(node: LexborNode, tags: frozenset[str]) -> LexborNode | None:
    """The previous sibling element when it is one of ``tags`` (text between is skipped)."""
    prev = node.prev
    while prev is not None and prev.tag == "-text":
        prev = prev.prev
    return prev if prev is not None and prev.tag in tags else None


def _follows_a_row(row: LexborNode) -> bool:
    if _previous(row, frozenset({"tr"})) is not None:
        return True
    section = row.parent  # the first row of a tbody after a thead
    return (
        section is not None
        and section.tag in _SECTIONS
        and _previous(section, _SECTIONS) is not None
    )


def _text_before(node: LexborNode) -> str:
    """The text right before ``node``: its previous sibling's, or that
    sibling's last child's ("<b>10</b><sup>"). One node, never a subtree:
    reading whole subtrees of 20,000 nested tags would be quadratic."""
    prev = node.prev
    if prev is not None and prev.tag != "-text":
        prev = prev.last_child
    return _own_text(prev)


def _own_text(node: LexborNode | None) -> str:
    return (node.text_content or "") if node is not None and node.tag == "-text" else ""


def _readable(text: str) -> str:
    """Whitespace collapsed; escapes and invisible characters removed."""
    return " ".join(_ESCAPES.sub("", text).translate(_INVISIBLE).split())


def _decode(body: bytes, label: str) -> str:
    charset = codec_for_label(label)  # "iso-8859-1" is windows-1252, as browsers read it
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
