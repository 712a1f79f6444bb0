"""The output rules the personality check enforces, as precompiled patterns.

Kept apart from the stream mechanics so the model prompt, the invariant check
and the stream check all share one list. The patterns match on what a reader
sees (``readable``: invisible characters dropped, whitespace runs as one space,
look-alike letters and apostrophes folded), never on the raw text: ``search``
does that and maps the match back. Every pattern is bounded
(``MAX_MATCH_CHARS`` characters of that view) so a hold-back window keeping
that much of the view can never release the first half of a match; a unit test
checks the bound.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from novaos.pipeline.gates.readable import Readable, readable

BANNED_PHRASES: tuple[str, ...] = (
    "I'm always here for you",
    "you can always count on me",
    "I'm so proud of you",
    "you're amazing",
    "I truly understand how you feel",
)
SYCOPHANTIC_OPENERS: tuple[str, ...] = ("Great question!", "Absolutely!")

MAX_MATCH_CHARS = 88

# Between the words of a phrase: spaces, or one line break (a single newline
# renders as a space), never a blank line, which is a release point
# (``SENTENCE_END``): a phrase may not straddle text already let go.
_SP = r"(?:[\x20\t]{1,3}|\r?\n[\x20\t]?)"  # \x20: _phrase replaces spaces
_ADV = r"(?:so|very|really|truly|always|just|still|incredibly|completely|totally|fully|absolutely)"
# I'm / Im / I am / I'll be / I will be, an adverb allowed before "be" ("I'll always be").
_IM = rf"i(?:['’]?m|{_SP}am|(?:['’]ll|{_SP}will){_SP}(?:{_ADV}{_SP})?be)"


def _phrase(body: str) -> str:
    return r"\b" + body.replace(" ", _SP) + r"\b"


# Close variants of each banned dependency phrase (case-insensitive, curly quotes).
BANNED = re.compile(
    "|".join(
        (
            _phrase(rf"{_IM} (?:{_ADV} ){{0,2}}(?:here|there) for you"),
            _phrase(rf"you can (?:{_ADV} ){{0,2}}(?:count|rely|depend) on me"),
            _phrase(rf"{_IM} (?:{_ADV} ){{0,2}}proud of you"),
            _phrase(rf"you(?:['’]re| are) (?:{_ADV} ){{0,2}}(?:amazing|incredible)"),
            _phrase(
                rf"i (?:{_ADV} ){{0,2}}understand (?:exactly )?"
                rf"(?:how|what) you(?:['’]re| are)? (?:feel|feeling|going through)"
            ),
        )
    ),
    re.IGNORECASE,
)

# Only at the very start of an answer; removed, never regenerated for. Bold or
# italic ones too: the view drops the marks (the strip takes the closing ones).
OPENER = re.compile(
    r"^\s*(?:(?:what an? )?(?:great|excellent|fantastic|wonderful|good|amazing) "
    r"question[!.]|absolutely!|certainly!|of course!)",
    re.IGNORECASE,
)

# "we" beyond the allowed count turns into "you" when it starts a modal phrase.
WE = re.compile(r"\bwe\b", re.IGNORECASE)
WE_MODAL = re.compile(
    r"\b(we)(?=\s{1,3}(?:can|could|should|will|might|may|must|need|have to)\b|['’]ll\b)",
    re.IGNORECASE,
)
MAX_WE = 2

BUY_SELL = re.compile(
    r"\b(?:you should|i (?:would |strongly )?(?:recommend|suggest|advise)(?: that you)?|"
    r"i['’]d|it['’]s (?:a )?(?:good|great) (?:time|idea) to|now is (?:a |the )?(?:good |great )?"
    r"time to)\s{1,3}(?:buy|sell|short|dump|buying|selling|shorting)\b|"
    r"\b(?:strong(?:ly)? (?:buy|sell)|buy (?:now|today|immediately)|"
    r"sell (?:now|today|immediately))\b",
    re.IGNORECASE,
)

# Precise figures: money, percentages, decimals, thousands. Bare small integers
# ("3 steps") and years are fine.
FIGURE = re.compile(
    r"[$€£¥]\s?\d{1,9}(?:,\d{3}){0,4}(?:\.\d{1,4})?(?:\s?(?:k|m|bn|million|billion))?\b|"
    r"\b\d{1,6}(?:\.\d{1,4})?\s?%|"
    r"\b\d{1,6}\.\d{1,4}\b|"
    r"\b\d{1,3}(?:,\d{3}){1,4}(?:\.\d{1,4})?\b|"
    r"\b\d{1,9}(?:\.\d{1,4})?\s(?:usd|eur|gbp|dollars|euros|btc|eth)\b",
    re.IGNORECASE,
)
FIGURE_PLACEHOLDER = "[figure not verified]"

# Sentence ends: terminator(s) and closing quotes/brackets followed by whitespace,
# or a blank line. A single line break is not one: a banned phrase may continue
# after it ("I'm always\nhere for you" renders as one line).
SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|\n[ \t\r]*\n\s*")


class Hit(NamedTuple):
    """A match found on the view, as a span of the text as written."""

    start: int
    end: int
    text: str


def search(pattern: re.Pattern[str], text: str, view: Readable | None = None) -> Hit | None:
    """The first match of ``pattern`` in what a reader sees of ``text``."""
    view = view or readable(text)
    match = pattern.search(view.text)
    if match is None:
        return None
    start, end = view.start(match.start()), view.end(match.end())
    return Hit(start, end, text[start:end])


def find_banned(text: str) -> str | None:
    """The first banned phrase in ``text`` (as written), or None."""
    hit = search(BANNED, text)
    return hit.text if hit else None
