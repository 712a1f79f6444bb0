"""Which span of the held-back text an edit cuts, around a violation.

The unit is the sentence or the list item (its line) holding the violation: a
half sentence around a removed phrase reads worse than none, and the items of a
list are apart from each other (a single line break ends no sentence for the
release, so a phrase may go on over it, but it ends an item for an edit). An
item goes whole with its marker ("2. ", "- "), which is no sentence end. A
unit is cut once its end is in hand (a sentence end, a line break, the end of
the answer); until then the check waits for it, as long as the window lets the
unit stay held. When the window is full and the unit still goes on (a run-on
sentence with no end in sight), or part of it is already released (a forced
cut fell inside it), the clause holding the violation (between commas,
semicolons, colons or dashes) is cut, or without one the phrase itself: never
text that has not arrived, so an edit removes a bounded span and what follows
it is released as usual.
"""

from __future__ import annotations

import re

from novaos.pipeline.gates import rules

# A clause mark is one a space follows (or a dash with spaces around it), or the
# last character so far: inside a token ("1,500", "https://", "10:30",
# "2020–2024") it marks no clause, and a cut there changes a number or leaves
# half a link.
_CLAUSE_MARK = re.compile(r"[,;:—–](?=\s|\Z)|(?<=\s)-(?=\s|\Z)")
# A list item's marker ("2. ", "- "): a cut item goes with its marker and line.
_LIST_ITEM = re.compile(r"[ \t]*(?:\d+[.)]|[-*•])[ \t]")


def unit(text: str, start: int, end: int, *, final: bool) -> tuple[int, int | None]:
    """The sentence or line around ``text[start:end]``: where it begins, and
    where it ends with the whitespace after it, or None while it is still open
    (``final``: the answer ended, so its end is the end of the text)."""
    begin = text.rfind("\n", 0, start) + 1
    line = text.find("\n", end)
    if _LIST_ITEM.match(text, begin):  # "2. " is no sentence end: the item goes whole
        return begin, line + 1 if line >= 0 else len(text) if final else None
    for sentence_end in rules.SENTENCE_END.finditer(text, begin, start):
        begin = sentence_end.end()
    stop: int | None = None
    # From the match's last character: a match may end with its sentence's end
    # ("sell your shares." takes the word or mark after the asset).
    after = rules.SENTENCE_END.search(text, max(start, end - 1))
    if after is not None and (line < 0 or after.start() <= line):
        stop = after.end()  # a sentence end, or a blank line, with what follows it
    elif line >= 0:
        stop = line + 1
    elif final:
        stop = len(text)
    return begin, stop


def clause(text: str, begin: int, start: int, end: int, stop: int | None) -> tuple[int, int]:
    """The clause around ``text[start:end]`` of the unit ``text[begin:stop]``
    (``stop`` None: it goes on past the text): from the mark before it up to the
    next one, or from the space before the phrase through the next mark, or the
    phrase alone with a space beside it."""
    stop = len(text) if stop is None else stop
    before = -1
    for mark in _CLAUSE_MARK.finditer(text, begin):  # the last mark before the phrase
        if mark.start() >= start:
            break
        before = mark.start()
    after = _CLAUSE_MARK.search(text, end, stop)
    if before >= 0:
        return before, after.start() if after is not None else end
    # From the space before the phrase: what follows the cut may not have come yet.
    if start > begin and text[start - 1] in " \t":
        start -= 1
    elif after is None and text.startswith(" ", end):
        end += 1
    return start, after.end() if after is not None else end
