"""Which of many word-bounded patterns could match a text, without running them.

The shield runs a few hundred policy regexes over every message and every
released sentence of model output; running each one is most of its cost. All
of them are matched the same way, ``" (?:pattern)(?= )"`` over text made of
words separated by single spaces, so a match always starts at a word, and for
most patterns the set of word pairs a match can start with is finite and
small ("kill myself", "end it", ...). ``WordIndex`` reads that set off the
parsed pattern once, at start-up (falling back to first words alone, then to
"always", where the pairs are unbounded), and indexes the patterns by it: for
a text, only the patterns whose opening words occur in it need to run.

The analysis over-approximates and never under-approximates: lookarounds are
ignored (they only remove matches), and anything it cannot enumerate (large
character classes, back-references, case-insensitive groups, more than
``_MAX_WORDS`` spellings) makes the pattern run always. So a text's candidates
are a superset of the patterns that match it, and skipping the others cannot
change a verdict; ``tests/unit/test_word_index.py`` checks this against
running every pattern on the labelled sets.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, TypeVar

_MAX_SPELLINGS = 5000  # openings per pattern before giving up
_MAX_CLASS = 10  # characters a class may stand for (``[0-9]`` yes, ``[a-z]`` no)
_MAX_REPEAT = 8  # unrolled repetitions before a repeat counts as unbounded
# Ends a spelling that goes on with letters the analysis does not enumerate
# (``photograph[a-z]*``): the opening *starts with* what precedes the mark.
PREFIX = "\0"

# (openings already complete, openings still growing) after part of a pattern.
_State = tuple[set[str], set[str]]


def parse(pattern: str) -> Any:
    """A pattern's parse tree. The analyses here accept one in place of the
    pattern, so a caller running several of them parses each pattern once
    (parsing is most of their start-up cost); they never change it."""
    return sre_parse.parse(pattern)


def _tree(pattern: str | Any) -> Any:
    return sre_parse.parse(pattern) if isinstance(pattern, str) else pattern


def first_words(pattern: str | Any, words: int = 1) -> frozenset[str] | None:
    """Every opening of ``words`` words (joined by single spaces, or fewer when
    the match is shorter) that a match of ``" (?:pattern)(?= )"`` can start
    with; None if there are too many to list. ``pattern`` may be its ``parse``."""
    parsed = _tree(pattern)
    if parsed.state.flags & re.IGNORECASE:
        return None
    state = _Walker(words).sequence(parsed, {""})
    if state is None:
        return None
    found = state[0] | state[1]  # growing openings end where the match does
    return (
        None if "" in found or any(s.startswith((" ", PREFIX)) for s in found) else frozenset(found)
    )


class _Walker:
    """Enumerates the openings of a parsed pattern, one node at a time."""

    def __init__(self, words: int) -> None:
        self._spaces = words  # an opening is complete at its ``words``-th space
        self._steps: dict[Any, Callable[[Any, set[str]], _State | None]] = {
            sre.LITERAL: lambda arg, open_: self._chars({chr(arg)}, open_),
            sre.IN: self._in,
            sre.SUBPATTERN: self._subpattern,
            sre.BRANCH: self._branch,
            sre.MAX_REPEAT: self._repeat,
            sre.MIN_REPEAT: self._repeat,
            sre.POSSESSIVE_REPEAT: self._repeat,
            # Anchors and lookarounds consume nothing: ignoring them only adds openings.
            sre.AT: lambda _arg, open_: (set(), set(open_)),
            sre.ASSERT: lambda _arg, open_: (set(), set(open_)),
            sre.ASSERT_NOT: lambda _arg, open_: (set(), set(open_)),
        }

    def sequence(self, items: Iterable[tuple[Any, Any]], open_: set[str]) -> _State | None:
        done: set[str] = set()
        for op, arg in items:
            if not open_:
                break  # every opening is complete: the rest of the pattern is irrelevant
            step = self._steps.get(op)
            result = None if step is None else step(arg, open_)
            if result is None:
                return None
            done |= result[0]
            open_ = result[1]
            if len(done) + len(open_) > _MAX_SPELLINGS:
                return None
        return done, open_

    def _chars(self, chars: set[str], open_: set[str]) -> _State:
        done: set[str] = set()
        grown = {s + ch for s in open_ for ch in chars if ch != " "}
        if " " in chars:
            for s in open_:
                if s.count(" ") + 1 >= self._spaces:
                    done.add(s)
                else:
                    grown.add(s + " ")
        return done, grown

    def _in(self, arg: Sequence[tuple[Any, Any]], open_: set[str]) -> _State | None:
        chars = _class(arg)
        if chars is not None:
            return self._chars(chars, open_)
        if _letters_only(arg):  # the word goes on with letters: keep what is known
            return {s + PREFIX for s in open_}, set()
        return None

    def _subpattern(self, arg: tuple[Any, int, int, Any], open_: set[str]) -> _State | None:
        _group, add_flags, _del_flags, body = arg
        return None if add_flags & re.IGNORECASE else self.sequence(body, open_)

    def _branch(self, arg: tuple[Any, list[Any]], open_: set[str]) -> _State | None:
        done: set[str] = set()
        out: set[str] = set()
        for branch in arg[1]:
            result = self.sequence(branch, open_)
            if result is None:
                return None
            done |= result[0]
            out |= result[1]
            if len(done) + len(out) > _MAX_SPELLINGS:
                return None  # as the enclosing sequence would, without the other branches
        return done, out

    def _repeat(self, arg: tuple[int, int, Any], open_: set[str]) -> _State | None:
        low, high, item = arg
        done: set[str] = set()
        out: set[str] = set()
        current = set(open_)
        for count in range(_MAX_REPEAT):
            if count >= low:
                out |= current
            if count == high or not current:
                return done, out
            result = self.sequence(item, current)
            if result is None:
                return None
            done |= result[0]
            current = result[1]
        return None


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


_MIN_NEEDED = 3  # shorter strings (" a ", "it") are in nearly every text
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)


def needed_substrings(pattern: str | Any) -> frozenset[str] | None:
    """Strings one of which every match of ``pattern`` contains, chosen past its
    opening words (which ``WordIndex`` already looks up); None if there are none
    of at least ``_MIN_NEEDED`` characters.

    A second, cheaper filter for the candidates an index returns: many rules
    open with common words ("give me", "how do i") and need a rarer one later
    ("bomb", "silencer"). Like the index, it over-approximates: each literal run,
    group, alternation or repeated (at least once) item of a sequence is a
    necessary condition on its own, so any one of them may be picked."""
    parsed = _tree(pattern)
    if parsed.state.flags & re.IGNORECASE:
        return None
    return _needed(parsed, at_start=True)


def _needed(items: Iterable[tuple[Any, Any]], *, at_start: bool) -> frozenset[str] | None:
    """The most selective necessary set among a sequence's items, skipping its
    opening item when the sequence starts the match."""
    options: list[frozenset[str]] = []
    run: list[str] = []
    opening = at_start  # the next item is the sequence's first

    def flush() -> None:
        nonlocal opening
        if run:
            if not opening:
                options.append(frozenset({"".join(run)}))
            run.clear()
            opening = False

    for op, arg in items:
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        flush()
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue  # consumes nothing; what it asserts is not needed in the match
        found: frozenset[str] | None = None
        if op is sre.SUBPATTERN:
            _group, add_flags, _del_flags, body = arg
            found = None if add_flags & re.IGNORECASE else _needed(body, at_start=opening)
        elif op is sre.BRANCH:
            found = _all_of(_needed(branch, at_start=opening) for branch in arg[1])
        elif op in _REPEATS and arg[0] >= 1:
            found = _needed(arg[2], at_start=opening)
        opening = False
        if found is not None:
            options.append(found)
    flush()
    # Judged by their letters: " me " is no rarer than "me".
    useful = [o for o in options if _shortest(o) >= _MIN_NEEDED]
    return max(useful, key=lambda o: (_shortest(o), -len(o)), default=None)


def _shortest(strings: frozenset[str]) -> int:
    return min(len(s.strip()) for s in strings)


def _all_of(branches: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
    """A branch's match needs one of its own strings: the union, if every branch has one."""
    union: set[str] = set()
    for found in branches:
        if found is None:
            return None
        union |= found
    return frozenset(union)


# From this length on, a pattern is tried only where its openings occur (``WordIndex.starts``).
LONG_TEXT = 2000


@dataclass(frozen=True, slots=True)
class TextKeys:
    """A text's words and adjacent word pairs: what ``WordIndex`` looks up.

    Built once per text (``text_keys``) and shared by every index run on it.
    ``text``: the text itself when it is long and its only whitespace is
    single spaces; ``found`` remembers where each opening occurs in it."""

    words: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    text: str | None = None
    found: dict[str, list[int]] = field(default_factory=dict)

    def offsets(self, opening: str) -> list[int]:
        """Every offset of ``opening`` (``" word "``, ``" word word "``, or a
        prefix ``" word wo"``) in ``text``, overlapping ones included."""
        known = self.found.get(opening)
        if known is None:
            text = self.text or ""
            known = []
            at = text.find(opening)
            while at >= 0:
                known.append(at)
                at = text.find(opening, at + 1)
            self.found[opening] = known
        return known


def text_keys(text: str) -> TextKeys:
    words = text.split()
    # Printable: no whitespace but " " (no tab, line break or no-break space),
    # so the words between single spaces are the words ``split`` finds.
    long = len(text) >= LONG_TEXT and text.isprintable()
    return TextKeys(frozenset(words), frozenset(itertools.pairwise(words)), text if long else None)


# ``match`` at each start while there are fewer than one per this many characters
# (a match attempt costs ~0.2-3 us, a search ~0.1 us per character).
_CHARS_PER_START = 16


def found_in(
    regex: re.Pattern[str], keys: TextKeys, text: str, openings: Sequence[str] | None
) -> bool:
    """Whether ``regex`` (``" (?:pattern)(?= )"``) matches ``text``; ``openings``:
    the openings its matches start with that occur in ``text`` (``WordIndex.starts``;
    ``keys`` finds them), None when unknown.

    The same answer as ``regex.search(text)``: a match that starts elsewhere
    would open with words the index does not list for the pattern."""
    if openings is None or keys.text != text:
        return regex.search(text) is not None
    starts = [at for opening in openings for at in keys.offsets(opening)]
    if len(starts) * _CHARS_PER_START > len(text):
        return regex.search(text) is not None
    return any(regex.match(text, at) for at in starts)


_Ids = tuple[int, ...]


class WordIndex:
    """Candidate patterns for a space-separated text, in their original order.

    Each pattern is keyed by its two-word openings where those can be listed,
    else by its first words, else it runs on every text.
    """

    def __init__(self, patterns: Sequence[str | Any]) -> None:
        """``patterns``: regex sources, or their ``parse`` trees."""
        words: dict[str, list[int]] = {}
        pairs: dict[tuple[str, str], list[int]] = {}
        word_prefixes: dict[str, list[int]] = {}
        pair_prefixes: dict[tuple[str, str], list[int]] = {}
        always: list[int] = []
        for i, pattern in enumerate(patterns):
            tree = _tree(pattern)
            keys = first_words(tree, 2) or first_words(tree, 1)
            if keys is None:
                always.append(i)
                continue
            for key in keys:
                prefix = key.endswith(PREFIX)
                first, _, second = key.removesuffix(PREFIX).partition(" ")
                if not _:
                    (word_prefixes if prefix else words).setdefault(first, []).append(i)
                else:
                    (pair_prefixes if prefix else pairs).setdefault((first, second), []).append(i)
        self._words = _frozen(words)
        self._pairs = _frozen(pairs)
        # Prefixes of first words, bucketed by their first characters; prefixes of
        # second words, by the (whole) first word: one lookup per word or pair.
        self._head = min(map(len, word_prefixes), default=0)
        self._word_prefixes = _buckets(word_prefixes, lambda p: p[: self._head])
        self._pair_prefixes = _buckets(pair_prefixes, lambda p: p[0])
        self._always = frozenset(always)
        self.size = len(patterns)

    @property
    def unbounded(self) -> int:
        """How many patterns run on every text."""
        return len(self._always)

    def candidates(self, text: str | TextKeys) -> list[int]:
        """Indices of the patterns that could match ``text``, ascending."""
        keys = text_keys(text) if isinstance(text, str) else text
        found = set(self._always)
        if self._words or self._word_prefixes:
            head, words, prefixes = self._head, self._words, self._word_prefixes
            for word in keys.words:
                if (ids := words.get(word)) is not None:
                    found.update(ids)
                if prefixes and (entries := prefixes.get(word[:head])) is not None:
                    found.update(i for p, ids in entries if word.startswith(p) for i in ids)
        pairs, pair_prefixes = self._pairs, self._pair_prefixes
        for pair in keys.pairs:
            if (ids := pairs.get(pair)) is not None:
                found.update(ids)
            if pair_prefixes and (seconds := pair_prefixes.get(pair[0])) is not None:
                second = pair[1]
                found.update(i for (_, p), ids in seconds if second.startswith(p) for i in ids)
        return sorted(found)

    def located(self, keys: TextKeys) -> Iterable[tuple[int, list[str] | None]]:
        """``candidates`` in order, each with the openings ``found_in`` tries it at
        (``starts``); None for every one on a text too short to hold its openings."""
        starts = self.starts(keys)
        if starts is None:
            return zip(self.candidates(keys), itertools.repeat(None))
        return sorted(starts.items())

    def starts(self, keys: TextKeys) -> dict[int, list[str] | None] | None:
        """For each candidate (as ``candidates`` finds them), the openings it is
        indexed by that occur in the text, as ``TextKeys.offsets`` looks them up
        (None: it may start anywhere). None when ``keys`` holds no ``text``."""
        if keys.text is None:
            return None
        found: dict[int, list[str] | None] = dict.fromkeys(self._always)
        if self._words or self._word_prefixes:
            self._word_starts(keys, found)
        pairs, pair_prefixes = self._pairs, self._pair_prefixes
        for first, second in keys.pairs:
            if (ids := pairs.get((first, second))) is not None:
                _add(found, ids, f" {first} {second} ")
            if pair_prefixes and (seconds := pair_prefixes.get(first)) is not None:
                for (_, p), ids in seconds:
                    if second.startswith(p):
                        _add(found, ids, f" {first} {p}")
        return found

    def _word_starts(self, keys: TextKeys, found: dict[int, list[str] | None]) -> None:
        head, words, prefixes = self._head, self._words, self._word_prefixes
        for word in keys.words:
            if (ids := words.get(word)) is not None:
                _add(found, ids, f" {word} ")
            if prefixes and (entries := prefixes.get(word[:head])) is not None:
                for p, ids in entries:
                    if word.startswith(p):
                        _add(found, ids, f" {p}")


def _add(found: dict[int, list[str] | None], ids: _Ids, opening: str) -> None:
    for i in ids:
        if i not in found:
            found[i] = [opening]
        elif (known := found[i]) is not None:
            known.append(opening)


_K = TypeVar("_K", str, tuple[str, str])


def _frozen(index: dict[_K, list[int]]) -> dict[_K, _Ids]:
    return {key: tuple(ids) for key, ids in index.items()}


def _buckets(
    index: dict[_K, list[int]], head: Callable[[_K], str]
) -> dict[str, tuple[tuple[_K, _Ids], ...]]:
    buckets: dict[str, list[tuple[_K, _Ids]]] = {}
    for key, ids in index.items():
        buckets.setdefault(head(key), []).append((key, tuple(ids)))
    return {h: tuple(entries) for h, entries in buckets.items()}
