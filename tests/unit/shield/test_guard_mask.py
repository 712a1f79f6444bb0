"""Masking with the guards the index picks is masking with every guard.

``ShieldClassifier._mask_of`` builds the alternation of the candidate guards
only; a reference classifier here masks with the alternation of all of them,
as the shield did before, and both must agree on every labelled message and on
texts generated from the guards themselves.
"""

from __future__ import annotations

import re
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.shield_scores import DATA, load_rows
from novaos.pipeline.gates.normalize import normalize
from novaos.pipeline.gates.shield import ShieldClassifier
from tests.unit.shield.test_word_index import LABELLED, _strip_lookarounds


class AllGuards(ShieldClassifier):
    """The reference: one alternation of every masking guard, whatever the text."""

    def __init__(self) -> None:
        super().__init__()
        every = "|".join(f"(?:{p})" for p in self._mask_patterns)
        self._every = re.compile(f" (?:{every})(?= )")

    def _mask_of(self, guards: list[int]) -> re.Pattern[str]:
        return self._every


@cache
def _reference() -> AllGuards:
    return AllGuards()


def test_the_labelled_sets_are_masked_alike(classifier: ShieldClassifier) -> None:
    reference, masked_somewhere = _reference(), 0
    for name in LABELLED:
        for row in load_rows(DATA / name):
            norm = normalize(row.text, classifier._common)
            views = classifier._masked(norm)
            assert views == reference._masked(norm), row.text
            masked_somewhere += any(" | " in v.text for v in views)
    assert masked_somewhere > 50  # the guards really fired


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_texts_built_from_guards_are_masked_alike(
    classifier: ShieldClassifier, data: st.DataObject
) -> None:
    patterns = classifier._mask_patterns
    alphabet = st.sampled_from("abcdefghijklmnopqrstuvwxyz ")
    parts = []
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(patterns) - 1))
        regex = _strip_lookarounds(patterns[i])
        parts.append(data.draw(st.from_regex(regex, fullmatch=True, alphabet=alphabet)))
        parts.append(data.draw(st.sampled_from(["", "and", "how do i", "my", "the"])))
    norm = normalize(" ".join(parts), classifier._common)
    assert classifier._masked(norm) == _reference()._masked(norm)
    text = " ".join(parts)
    assert classifier.classify(text) == _reference().classify(text)


def test_compiled_subsets_are_bounded(classifier: ShieldClassifier) -> None:
    from itertools import combinations, islice

    from novaos.pipeline.gates.shield import _MASK_SUBSETS

    patterns = classifier._mask_patterns
    subsets = list(islice(combinations(range(len(patterns)), 3), _MASK_SUBSETS + 20))
    for subset in subsets:
        regex = classifier._mask_of(list(subset))
        assert regex.pattern == " (?:" + "|".join(f"(?:{patterns[i]})" for i in subset) + ")(?= )"
    assert len(classifier._masks) == _MASK_SUBSETS
    assert subsets[0] not in classifier._masks  # the oldest went first
    assert subsets[-1] in classifier._masks
