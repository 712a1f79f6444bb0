"""What a reader sees of a text, for the output rules, with a map back to the text.

A model's answer can spell a banned phrase so that a pattern misses it while a
reader still reads it: zero-width characters or soft hyphens inside a word,
no-break or other spaces, runs of spaces a renderer shows as one, Cyrillic or
Greek look-alike letters, apostrophe look-alikes (U+02BC). The output rules
match on this view instead: each character as the shield's ``fold`` reads it
(NFKC, case folded, look-alikes to Latin, accents off, invisible ones gone),
apostrophe look-alikes as ``'``, and every run of whitespace (with any invisible
characters in it) as one space (the Hangul fillers and the Braille blank, which
render as blanks, count as whitespace), or as a blank line when it holds one (a blank
line is a release point: a phrase may not span it). Inline markup a renderer
shows as nothing is invisible too: emphasis and code marks (``*``, ``_``, ``~``,
a backtick), link brackets, and simple inline HTML tags (``<b>``, ``</em>``), so
"I'm *always* here for [you](...)" reads as the phrase it renders as.

Printable ASCII other than those marks is kept as it is and most of an answer
needs no work at all, so the view is usually close to the text itself. Where
it differs, ``start``/``end`` map view positions back to the text as written,
so an edit found on the view removes exactly the characters that made the match.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from novaos.pipeline.gates.normalize import fold_char

# Inline markup that renders as nothing: emphasis, strike-through and code
# marks, link brackets ("[you](https://...)" shows "you"), and inline HTML tags
# without attributes.
_MARKS = frozenset("*_~`[]")
_PLAIN_QUIET = " \t\r\n*_~`[]"  # ASCII a gap or a mark: most runs are only these
_TAG = re.compile(
    r"</?(?:b|i|u|s|em|strong|del|ins|mark|code|sub|sup|small|big|span|strike|tt|kbd|q)>",
    re.IGNORECASE,
)
# Anything a view may differ on: a run of two or more characters that are not
# printable ASCII or are marks, one character that is neither printable ASCII
# nor a plain space or newline (which the rules read as they are), a mark, or a tag.
_WORK = re.compile(
    r"[^\x21-\x29\x2b-\x5a\x5c\x5e\x61-\x7d]{2,}|[^\x20-\x7e\n]|[*_~`\[\]]|" + _TAG.pattern,
    re.IGNORECASE,
)
# Rendered as a blank, not as nothing: "always<U+3164>here" reads as two words.
_BLANKS = "\u115f\u1160\u2800\u3164\uffa0"
_SPACE = re.compile(rf"[\s{_BLANKS}]")
# As ``rules.SENTENCE_END`` has it: a blank line, whitespace other than these
# between its line breaks makes none.
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")
_APOSTROPHES = frozenset("‘’‛ʹʻʼʽˊ′´ꞌ＇")


@dataclass(frozen=True, slots=True)
class Readable:
    """``text``: the view. Where one of its pieces differs in length from the raw
    characters it comes from, ``_spans`` holds (view start, view end, raw start,
    raw end), ``_at`` the view starts; elsewhere view and raw are offset alike."""

    text: str
    _at: tuple[int, ...] = ()
    _spans: tuple[tuple[int, int, int, int], ...] = ()

    def start(self, i: int) -> int:
        """Where in the raw text the character ``text[i]`` comes from."""
        k = bisect_right(self._at, i) - 1
        if k < 0:
            return i
        _, view_end, raw_start, raw_end = self._spans[k]
        return raw_start if i < view_end else raw_end + i - view_end

    def end(self, j: int) -> int:
        """Where in the raw text the characters ``text[:j]`` end."""
        if j <= 0:
            return 0
        k = bisect_right(self._at, j - 1) - 1
        if k < 0:
            return j
        _, view_end, _, raw_end = self._spans[k]
        return raw_end if j - 1 < view_end else raw_end + j - view_end


def readable(text: str) -> Readable:
    """The view of ``text`` the output rules match on (see the module doc)."""
    out: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    done = shift = 0  # raw characters copied so far; view length minus raw length
    for run in _WORK.finditer(text):
        start, end = run.span()
        out.append(text[done:start])
        done = end
        if end - start == 1 and text[start] in _MARKS:  # a lone mark: code is full of them
            spans.append((start + shift, start + shift, start, end))
            shift -= 1
            continue
        for seen, raw_start, raw_end in _read_run(text, start, end):
            out.append(seen)
            if len(seen) != raw_end - raw_start:
                view_start = raw_start + shift
                spans.append((view_start, view_start + len(seen), raw_start, raw_end))
                shift += len(seen) - (raw_end - raw_start)
    if done == 0:
        return Readable(text)  # nothing to read differently: the common case
    out.append(text[done:])
    return Readable("".join(out), tuple(s[0] for s in spans), tuple(spans))


def _gap(text: str, start: int, end: int) -> str:
    return "\n\n" if _BLANK_LINE.search(text, start, end) else " "


def _blank(ch: str) -> bool:
    return ch.isspace() or ch in _BLANKS


def _seen(ch: str) -> str:
    if ch in _APOSTROPHES:
        return "'"
    seen = fold_char(ch)
    return "" if seen in _MARKS else seen  # a full-width asterisk is one too


def _read_run(text: str, start: int, end: int) -> list[tuple[str, int, int]]:
    """How ``text[start:end]`` reads, piece by piece: (view text, raw start, raw end).

    A gap starts at a whitespace character and takes in the whitespace and
    invisible characters after it."""
    run = text[start:end]
    if run[0] == "<" and _TAG.fullmatch(run):
        return [("", start, end)]
    if not run.strip(_PLAIN_QUIET) or all(_blank(ch) or not _seen(ch) for ch in set(run)):
        # Only whitespace and invisible characters (a flood of them is read at C speed).
        space = _SPACE.search(run)
        if space is None:
            return [("", start, end)]
        gap = start + space.start()
        return [("", start, gap), (_gap(text, gap, end), gap, end)]
    pieces: list[tuple[str, int, int]] = []
    gap_start = -1
    for i in range(start, end):
        ch = text[i]
        if _blank(ch) or (gap_start >= 0 and not _seen(ch)):
            gap_start = i if gap_start < 0 else gap_start
            continue
        if gap_start >= 0:
            pieces.append((_gap(text, gap_start, i), gap_start, i))
            gap_start = -1
        pieces.append((_seen(ch), i, i + 1))
    if gap_start >= 0:
        pieces.append((_gap(text, gap_start, end), gap_start, end))
    return pieces
