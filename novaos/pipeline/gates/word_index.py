"""Which of many word-bounded patterns could match a text, without running them.

The shield runs a few hundred policy regexes over every message and every
released sentence of model output; running each one is most of its cost. All
of them are matched the same way, ``" (?:pattern)(?= )"`` over text made of
words separated by single spaces, so a match always starts at a word, and for
most patterns the set of words a match can start with is finite and small
("kill", "killing", "end", ...). ``WordIndex`` reads that set off the parsed
pattern once, at start-up, and indexes the patterns by it: for a text, only
the patterns whose first word occurs in it (plus the few whose first word is
unbounded, such as ``[a-z]+``) need to run.

The analysis over-approximates and never under-approximates: lookarounds are
ignored (they only remove matches), and anything it cannot enumerate (large
character classes, back-references, case-insensitive groups, more than
``_MAX_WORDS`` spellings) makes the pattern run always. So a text's candidates
are a superset of the patterns that match it, and skipping the others cannot
change a verdict; ``tests/unit/test_word_index.py`` checks this against
running every pattern on the labelled sets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

_MAX_WORDS = 5000  # spellings of the first word per pattern before giving up
_MAX_CLASS = 10  # characters a class may stand for (``[0-9]`` yes, ``[a-z]`` no)
_MAX_REPEAT = 8  # unrolled repetitions before a repeat counts as unbounded
# Ends a spelling that goes on with letters the analysis does not enumerate
# (``photograph[a-z]*``): the first word *starts with* what precedes the mark.
PREFIX = "\0"

# (words already ended by a space, words still open) after part of a pattern.
_State = tuple[set[str], set[str]]


def first_words(pattern: str) -> frozenset[str] | None:
    """Every word a match of ``" (?:pattern)(?= )"`` can start with; None if unbounded."""
    parsed = sre_parse.parse(pattern)
    if parsed.state.flags & re.IGNORECASE:
        return None
    state = _sequence(parsed, {""})
    if state is None:
        return None
    words = state[0] | state[1]  # open words end where the match does (a space follows)
    return None if "" in words or PREFIX in words else frozenset(words)


def _sequence(items: Iterable[tuple[Any, Any]], open_: set[str]) -> _State | None:
    ended: set[str] = set()
    for op, arg in items:
        if not open_:
            break  # every spelling has reached its first space: the rest is irrelevant
        step = _node(op, arg, open_)
        if step is None:
            return None
        ended |= step[0]
        open_ = step[1]
        if len(ended) + len(open_) > _MAX_WORDS:
            return None
    return ended, open_


def _node(op: Any, arg: Any, open_: set[str]) -> _State | None:
    step = _STEPS.get(op)
    return None if step is None else step(arg, open_)


def _literal(arg: int, open_: set[str]) -> _State | None:
    return _chars({chr(arg)}, open_)


def _in(arg: Sequence[tuple[Any, Any]], open_: set[str]) -> _State | None:
    chars = _class(arg)
    if chars is not None:
        return _chars(chars, open_)
    if _letters_only(arg):  # the word goes on with letters: keep what is known
        return {word + PREFIX for word in open_}, set()
    return None


def _subpattern(arg: tuple[Any, int, int, Any], open_: set[str]) -> _State | None:
    _group, add_flags, _del_flags, body = arg
    return None if add_flags & re.IGNORECASE else _sequence(body, open_)


def _branch(arg: tuple[Any, list[Any]], open_: set[str]) -> _State | None:
    ended: set[str] = set()
    out: set[str] = set()
    for branch in arg[1]:
        step = _sequence(branch, open_)
        if step is None:
            return None
        ended |= step[0]
        out |= step[1]
    return ended, out


def _zero_width(_arg: Any, open_: set[str]) -> _State | None:
    return set(), set(open_)  # anchors, lookarounds: ignoring them only adds spellings


def _chars(chars: set[str], open_: set[str]) -> _State:
    ended = set(open_) if " " in chars else set()
    return ended, {word + ch for word in open_ for ch in chars if ch != " "}


def _class(items: Sequence[tuple[Any, Any]]) -> set[str] | None:
    chars: set[str] = set()
    for op, arg in items:
        if op is sre.LITERAL:
            chars.add(chr(arg))
        elif op is sre.RANGE and arg[1] - arg[0] < _MAX_CLASS:
            chars.update(map(chr, range(arg[0], arg[1] + 1)))
        else:  # negated classes, categories (\w, \d), wide ranges
            return None
    return chars if len(chars) <= _MAX_CLASS else None


def _letters_only(items: Sequence[tuple[Any, Any]]) -> bool:
    """A class of plain ranges and literals that cannot match a space."""
    return all(
        (op is sre.LITERAL and arg != ord(" ")) or (op is sre.RANGE and not arg[0] <= 32 <= arg[1])
        for op, arg in items
    )


def _repeat(arg: tuple[int, int, Any], open_: set[str]) -> _State | None:
    low, high, item = arg
    ended: set[str] = set()
    out: set[str] = set()
    current = set(open_)
    for count in range(_MAX_REPEAT):
        if count >= low:
            out |= current
        if count == high or not current:
            return ended, out
        step = _sequence(item, current)
        if step is None:
            return None
        ended |= step[0]
        current = step[1]
    return None


_STEPS: dict[Any, Callable[[Any, set[str]], _State | None]] = {
    sre.LITERAL: _literal,
    sre.IN: _in,
    sre.SUBPATTERN: _subpattern,
    sre.BRANCH: _branch,
    sre.MAX_REPEAT: _repeat,
    sre.MIN_REPEAT: _repeat,
    sre.POSSESSIVE_REPEAT: _repeat,
    sre.AT: _zero_width,
    sre.ASSERT: _zero_width,
    sre.ASSERT_NOT: _zero_width,
}


class WordIndex:
    """Candidate patterns for a space-separated text, in their original order."""

    def __init__(self, patterns: Sequence[str]) -> None:
        by_word: dict[str, list[int]] = {}
        by_prefix: dict[str, list[int]] = {}
        always: list[int] = []
        for i, pattern in enumerate(patterns):
            words = first_words(pattern)
            if words is None:
                always.append(i)
                continue
            for word in words:
                if word.endswith(PREFIX):
                    by_prefix.setdefault(word[: -len(PREFIX)], []).append(i)
                else:
                    by_word.setdefault(word, []).append(i)
        self._by_word = {word: tuple(ids) for word, ids in by_word.items()}
        self._by_prefix = {prefix: tuple(ids) for prefix, ids in by_prefix.items()}
        self._prefix_lengths = sorted({len(prefix) for prefix in by_prefix})
        self._always = frozenset(always)
        self.size = len(patterns)

    @property
    def unbounded(self) -> int:
        """How many patterns run on every text."""
        return len(self._always)

    def candidates(self, text: str) -> list[int]:
        """Indices of the patterns that could match ``text``, ascending."""
        found = set(self._always)
        by_word, by_prefix, lengths = self._by_word, self._by_prefix, self._prefix_lengths
        for word in set(text.split()):
            ids = by_word.get(word)
            if ids is not None:
                found.update(ids)
            for length in lengths:
                if length > len(word):
                    break
                ids = by_prefix.get(word[:length])
                if ids is not None:
                    found.update(ids)
        return sorted(found)
