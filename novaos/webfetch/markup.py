"""How much of an HTML page the parser may see.

lexbor's tree builder is superlinear on hostile markup: each tag walks the
stack of open elements, so 60,000 nested ``<ul><li>`` (480 KB) cost seconds
and 980 KB minutes; thousands of distinct attributes on one tag are
quadratic too. Nothing can stop a parse once it runs, so the work is bounded
before it starts: the page is handed over only up to the tag that would pass
``MAX_TAGS`` tags, ``MAX_TAG_ATTRIBUTES`` attributes on one tag or
``MAX_ATTRIBUTES`` in all (worst cases measured in docs/webfetch.md).

Tags are counted as every ``<x`` and ``</x`` in the text, wherever it stands
(comment, script, attribute value), so no markup can hide tags from the
count; the count can only be too high. Attributes are read with the
tokenizer's own tag grammar, and every ``<`` inside a tag read that way is
read again as a tag of its own, so no tag escapes that check either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

MAX_TAGS = 20_000
MAX_TAG_ATTRIBUTES = 256
MAX_ATTRIBUTES = 50_000

_WS = "\t\n\f\r "  # the tokenizer's whitespace; Python's \s knows more
_TAG_START = re.compile(r"</?[a-zA-Z]")
# After an attribute name: "=" and a value; quotes open a value only here.
_VALUE = rf"""(?:[{_WS}]*+=[{_WS}]*+(?:"[^"]*+"|'[^']*+'|[^{_WS}>]++)?)?"""
_NAME = rf"[^{_WS}/>][^{_WS}/>=]*+"
_ITEMS = 2 * MAX_TAG_ATTRIBUTES + 2  # separators and attributes: enough to see one too many
_TAG = re.compile(
    rf"</?[a-zA-Z][^{_WS}/>]*+(?P<attrs>(?:[{_WS}/]++|{_NAME}{_VALUE}){{0,{_ITEMS}}}+)"
)
_ATTRIBUTE = re.compile(rf"[{_WS}/]*+{_NAME}{_VALUE}")


@dataclass(frozen=True, slots=True)
class Bounded:
    html: str
    cut: bool  # True when the page was handed over only in part


def bound_markup(html: str) -> Bounded:
    """``html`` up to the first tag past the bounds (all of it when within them)."""
    past = next(islice(_TAG_START.finditer(html), MAX_TAGS, None), None)
    end = len(html) if past is None else past.start()
    cut = _attribute_bound(html, end)
    if cut is not None:
        return Bounded(html[:cut], cut=True)
    return Bounded(html[:end], cut=past is not None)


def _attribute_bound(html: str, end: int) -> int | None:
    """Where the first tag past the attribute bounds starts, if one does before ``end``."""
    total = 0
    pos = 0
    while (tag := _TAG.search(html, pos, end)) is not None:
        count = len(_ATTRIBUTE.findall(tag.group("attrs")))
        total += count
        if count > MAX_TAG_ATTRIBUTES or total > MAX_ATTRIBUTES:
            return tag.start()
        inner = html.find("<", tag.start() + 1, tag.end())
        pos = tag.end() if inner == -1 else inner
    return None
