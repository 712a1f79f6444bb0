"""The shield's word index never hides a pattern that matches.

``WordIndex`` lets the shield skip the policy regexes whose first word is not
in the text. Skipping is only safe if the index over-approximates, so these
tests check the candidate set against running every pattern: on every view
of every labelled message, and on matches generated from each pattern itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.shield_scores import DATA, load_rows
from novaos.pipeline.facts import ShieldVerdict
from novaos.pipeline.gates import word_index
from novaos.pipeline.gates.normalize import normalize
from novaos.pipeline.gates.shield import ShieldClassifier
from novaos.pipeline.gates.word_index import (
    LONG_TEXT,
    PREFIX,
    TextKeys,
    WordIndex,
    first_words,
    found_in,
    needed_substrings,
    text_keys,
)
from novaos.pipeline.policy import default_policy

LABELLED = (
    "shield_labelled.jsonl",
    "shield_heldout.jsonl",
    "shield_heldout2.jsonl",
    "shield_heldout3.jsonl",
)


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("kill(?:ing)? myself", {"kill", "killing"}),
        ("(?:i|i m|im) (?:[a-z]+ ){0,2}sad", {"i", "im"}),
        ("end it(?! all)", {"end"}),
        ("my ?self", {"my", "myself"}),
        ("(?:[0-9]|1[0-7]) years?", {str(n) for n in range(18)}),
        ("photograph[a-z]* shoot", {"photograph", "photograph" + PREFIX}),
        ("(?:a|b){1,2} c", {"a", "b", "aa", "ab", "ba", "bb"}),
    ],
)
def test_first_words(pattern: str, words: set[str]) -> None:
    assert first_words(pattern) == words


@pytest.mark.parametrize(
    ("pattern", "pairs"),
    [
        ("kill(?:ing)? myself", {"kill myself", "killing myself"}),
        ("i (?:want|need) to go", {"i want", "i need"}),
        ("suicide|end it", {"suicide", "end it"}),  # a one-word match is its own opening
        ("my ?self harm", {"my self", "myself harm"}),
        ("i [a-z]+ you", {"i " + PREFIX}),
    ],
)
def test_two_word_openings(pattern: str, pairs: set[str]) -> None:
    assert first_words(pattern, 2) == pairs


@pytest.mark.parametrize(
    "pattern",
    [
        "[a-z]+ myself",  # first word unbounded
        "(?:[a-z]+ )?myself",  # may start with any word
        "(?i)kill",  # case-insensitive: spellings not enumerated
        "x.y",  # any character, spaces included
        "(?:a|b)+ c",  # more spellings than the analysis unrolls
        "(a)\\1",  # back-reference
        " lead",  # starts with a space: empty first word
    ],
)
def test_first_words_unbounded(pattern: str) -> None:
    assert first_words(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "needed"),
    [
        ("kill myself", None),  # only the opening, which the index already checks
        ("(?:how|what) (?:[a-z]+ ){0,3}bombs?", {"bomb"}),
        ("(?:give|make) me (?:a )?(?:gun|rifle)s?", {"gun", "rifle"}),  # not " me "
        ("(?:buy|get) (?:a )?(?:gun|[a-z]+ rifle)", {"gun", " rifle"}),
        ("how (?=to )to make (?:it|that)", {"to make "}),
        ("(?:buy|get) (?:guns?|(?i:bomb))", None),  # a case-insensitive branch
        ("(?i)buy (?:a )?gun", None),
        ("(?:a|an) (?:ox|it)", None),  # nothing of three letters or more
        ("(?:sell|buy) (?:me )?(?:pills)+", {"pills"}),  # repeated at least once
        ("(?:sell|buy) (?:me )?(?:pills)*", None),  # maybe never; " me " is too common
    ],
)
def test_needed_substrings(pattern: str, needed: set[str] | None) -> None:
    found = needed_substrings(pattern)
    assert (None if found is None else set(found)) == needed


def test_index_candidates_are_in_order_and_selective() -> None:
    patterns = ["kill myself", "[a-z]+ bomb", "tidy (?:my )?desk", "photo[a-z]* gun", "i [a-z]+ it"]
    index = WordIndex(patterns)
    assert index.unbounded == 1
    assert index.candidates(" please tidy my desk ") == [1, 2]
    assert index.candidates(" please tidy the desk ") == [1]  # "tidy the" opens no pattern
    assert index.candidates(" photographs of a gun ") == [1, 3]
    assert index.candidates(" kill myself ") == [0, 1]
    assert index.candidates(" i did it ") == [1, 4]
    assert index.candidates(" i ") == [1]  # a pair is needed: "i" alone opens nothing


@cache
def _families() -> dict[str, list[str]]:
    policy = default_policy()
    packs = [policy.packs[lang] for lang in policy.languages]
    return {
        "rules": [r.pattern for p in packs for r in p.rules],
        "output_rules": [r.pattern for p in packs for r in p.output_rules],
        "cues": [c.pattern for p in packs for c in p.cues],
        "guards": [g.pattern for p in packs for g in p.guards],
    }


def _bounded(pattern: str) -> re.Pattern[str]:
    return re.compile(f" (?:{pattern})(?= )")


def _views(classifier: ShieldClassifier) -> Iterator[str]:
    """Every text the shield scans for the labelled sets: views, masked and not."""
    for name in LABELLED:
        for row in load_rows(DATA / name):
            norm = normalize(row.text, frozenset())
            for view in norm.views:
                yield f" {view} "
            for masked in classifier._masked(norm):
                yield masked.text


@pytest.mark.parametrize("family", ["rules", "output_rules", "cues", "guards"])
def test_no_matching_pattern_is_skipped_on_the_labelled_sets(
    family: str, classifier: ShieldClassifier
) -> None:
    patterns = _families()[family]
    compiled = [_bounded(p) for p in patterns]
    index = WordIndex(patterns)
    needs = [needed_substrings(p) for p in patterns]
    matched_somewhere = 0
    for view in _views(classifier):
        matching = {i for i, regex in enumerate(compiled) if regex.search(view)}
        matched_somewhere += bool(matching)
        assert matching <= set(index.candidates(view)), view
        for i in matching:  # and the second filter keeps every rule that matches
            assert needs[i] is None or any(s in view for s in needs[i]), (patterns[i], view)
        keys = _long_keys(view)
        starts = index.starts(keys)
        assert starts is not None and sorted(starts) == index.candidates(view)
        for i in matching:  # and a long text tries each one wherever a match starts
            assert _match_starts(compiled[i], view) <= _offsets(keys, starts[i])
    assert matched_somewhere > 0  # the check saw real matches, not only misses


def _long_keys(view: str) -> TextKeys:
    """``view``'s keys as a long text's: with the text, for ``WordIndex.starts``."""
    keys = text_keys(view)
    return TextKeys(keys.words, keys.pairs, view)


def _offsets(keys: TextKeys, openings: list[str] | None) -> set[int]:
    """Where a pattern is tried: where its openings occur (None: anywhere)."""
    if openings is None:
        return set(range(len(keys.text or "")))
    return {at for opening in openings for at in keys.offsets(opening)}


def _match_starts(regex: re.Pattern[str], view: str) -> set[int]:
    return {at for at in range(len(view)) if regex.match(view, at)}


def test_long_text_tries_a_pattern_only_where_it_opens() -> None:
    """A 32k-character message was searched whole by every candidate rule
    (~2-10 ms each, ~160 ms for varied English): it is now matched only at the
    offsets where one of the rule's openings occurs."""
    patterns = _families()["rules"]
    index = WordIndex(patterns)
    view = " " + " ".join(["could you give me three short steps to tidy my desk"] * 600) + " "
    keys = text_keys(view)
    assert keys.text == view  # long: offsets are looked up
    starts = index.starts(keys)
    assert starts is not None and sorted(starts) == index.candidates(keys)
    spaces = {m.start() for m in re.finditer(" ", view)}
    for i, openings in starts.items():
        assert openings is not None and _offsets(keys, openings) <= spaces
        assert _match_starts(_bounded(patterns[i]), view) <= _offsets(keys, openings)
    assert text_keys(view[: LONG_TEXT - 1]).text is None  # short: searched whole, as before
    assert text_keys(view.replace(" ", "\t", 1)).text is None  # only single spaces qualify


def test_found_in_matches_only_at_the_offsets_given() -> None:
    regex = _bounded("tidy (?:my )?desk")
    view = " please tidy my desk now" + " and then some" * 10 + " "
    keys = _long_keys(view)
    assert found_in(regex, keys, view, [" tidy my "]) and found_in(regex, keys, view, None)
    assert not found_in(regex, keys, view, [" please "])  # an opening the index never lists
    assert found_in(regex, keys, view, [" "])  # opens everywhere: one search instead
    assert found_in(regex, text_keys(view), view, [" please "])  # short: searched whole


def test_every_policy_pattern_is_indexed() -> None:
    """All of today's policy is indexable; a new unbounded pattern costs every message."""
    for family, patterns in _families().items():
        assert WordIndex(patterns).unbounded == 0, family


def test_benign_text_runs_few_rules() -> None:
    patterns = _families()["rules"]
    index = WordIndex(patterns)
    view = " could you give me three short steps to tidy my desk before the meeting "
    candidates = index.candidates(view)
    assert len(candidates) < index.size // 2
    needs = [needed_substrings(patterns[i]) for i in candidates]
    kept = [n for n in needs if n is None or any(s in view for s in n)]
    assert len(kept) < len(candidates) // 3  # common openings, rarer words later


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_generated_matches_are_candidates(data: st.DataObject) -> None:
    """Strings built from a pattern itself: when one matches, its pattern is a candidate."""
    patterns, index = _generated_family()
    i = data.draw(st.integers(0, len(patterns) - 1))
    alphabet = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789 ")
    regex = _strip_lookarounds(patterns[i])
    body = data.draw(st.from_regex(regex, fullmatch=True, alphabet=alphabet))
    view = f" {' '.join(body.split())} "
    if _bounded(patterns[i]).search(view):
        assert i in index.candidates(view)
        keys = _long_keys(view)
        starts = index.starts(keys)
        assert starts is not None
        assert _match_starts(_bounded(patterns[i]), view) <= _offsets(keys, starts[i])
        needs = needed_substrings(patterns[i])
        assert needs is None or any(s in view for s in needs), (patterns[i], view)


@cache
def _generated_family() -> tuple[list[str], WordIndex]:
    patterns = _families()["rules"] + _families()["cues"] + _families()["guards"]
    return patterns, WordIndex(patterns)


def _strip_lookarounds(pattern: str) -> str:
    """Hypothesis cannot generate from lookarounds; dropping them only widens the language."""
    return re.sub(r"\(\?<?[!=][^()]*\)", "", pattern)


def test_no_policy_pattern_needs_a_double_space() -> None:
    """Views separate words by one space, so an opening that needs two (a lexicon
    branch ending in a space followed by a literal space) can never match."""
    for family, patterns in _families().items():
        for pattern in patterns:
            openings = first_words(pattern, 2) or frozenset()
            dead = sorted(o for o in openings if o.endswith(" "))
            assert not dead, f"{family}: {pattern[:80]}: {dead[:5]}"


def test_long_messages_get_the_same_verdicts(
    classifier: ShieldClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Labelled messages joined into long ones: matching only where openings
    occur decides exactly as searching every candidate rule over the whole text."""
    texts = [row.text for row in load_rows(DATA / "shield_labelled.jsonl")]
    joined = [" ".join(texts[i : i + 60]) for i in range(0, len(texts), 30)]
    joined += [". ".join(texts[i : i + 3] * 30) for i in range(0, len(texts), 97)]
    joined = [text for text in joined if len(text) >= LONG_TEXT]
    assert len(joined) > 40
    offsets = [classifier.classify(text) for text in joined]
    monkeypatch.setattr(word_index, "LONG_TEXT", 10**9)  # every text searched whole
    assert [classifier.classify(text) for text in joined] == offsets
    assert {facts.verdict for facts in offsets} >= {ShieldVerdict.CONTROL, ShieldVerdict.PASS}
