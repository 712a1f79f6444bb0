"""Weak-signal scoring for the shield: cues that decide only together.

A rule is a phrase that is enough on its own; a cue is a hint that is not
("I can't do this anymore", "giving my things away", "permanently"). Each
cue carries a weight below 1 and a category; the weights of *distinct* cues
found in the message and (for crisis categories) in the recent user turns
add up per category, and a sum reaching the policy's ``cue_threshold`` gives
that category's verdict. Counting each cue once keeps one hint repeated
three times from deciding, and guards mask and suppress cues as they do
rules, so the benign readings still win.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from novaos.pipeline.facts import ShieldVerdict
from novaos.pipeline.gates.word_index import (
    TextKeys,
    WordIndex,
    found_in,
    needed_substrings,
    parse,
)
from novaos.pipeline.policy import Policy


class MaskedView(NamedTuple):
    """One padded view as the rules see it: guarded spans masked, the
    categories guards switched off, and its lookup keys for the word index."""

    text: str
    suppressed: frozenset[str]
    keys: TextKeys


@dataclass(frozen=True, slots=True)
class CueHit:
    id: str
    category: str
    weight: float


@dataclass(frozen=True, slots=True)
class _CompiledCue:
    hit: CueHit
    regex: re.Pattern[str]
    pattern: str  # as written, unbounded: what the word index reads
    needs: tuple[str, ...]  # one of these is in every match (empty: no filter)


class CueScorer:
    """Finds cues in masked views and turns their sum into a category."""

    def __init__(self, policy: Policy) -> None:
        self._threshold = policy.cue_threshold
        self._verdicts = {name: c.verdict for name, c in policy.categories.items()}
        cues = [cue for lang in policy.languages for cue in policy.packs[lang].cues]
        self._cues = tuple(
            _CompiledCue(
                CueHit(cue.id, cue.category, cue.weight),
                re.compile(f" (?:{cue.pattern})(?= )"),
                cue.pattern,
                tuple(sorted(needed_substrings(parse(cue.pattern)) or ())),
            )
            for cue in cues
        )
        self._crisis_cues = tuple(
            c for c in self._cues if self._verdicts[c.hit.category] is ShieldVerdict.CONTROL
        )
        self._index = WordIndex([c.pattern for c in self._cues])
        self._crisis_index = WordIndex([c.pattern for c in self._crisis_cues])

    def find(self, masked_views: Sequence[MaskedView], *, crisis_only: bool = False) -> set[CueHit]:
        """Cues present in any padded, masked view whose category is not suppressed.

        ``crisis_only`` looks only for crisis cues (the ones earlier turns may carry).
        """
        found: set[CueHit] = set()
        cues, index = (
            (self._crisis_cues, self._crisis_index) if crisis_only else (self._cues, self._index)
        )
        for view, suppressed, keys in masked_views:
            for i, openings in index.located(keys):
                cue = cues[i]
                skip = cue.hit in found or cue.hit.category in suppressed
                if skip or (cue.needs and not any(s in view for s in cue.needs)):
                    continue
                if found_in(cue.regex, keys, view, openings):
                    found.add(cue.hit)
        return found

    def mask(self, view: MaskedView, mask: str) -> str:
        """``view``'s text with every cue it holds replaced by ``mask``: what is
        left for a reader that must not weigh the cues a second time."""
        text = view.text
        for cue in map(self._cues.__getitem__, self._index.candidates(view.keys)):
            if cue.hit.category not in view.suppressed:
                text = cue.regex.sub(mask, text)
        return text

    def decide(self, hits: Iterable[CueHit]) -> tuple[str, str] | None:
        """(category, joined cue ids) when one category's weights reach the threshold."""
        totals: dict[str, float] = {}
        ids: dict[str, list[str]] = {}
        for hit in hits:
            totals[hit.category] = totals.get(hit.category, 0.0) + hit.weight
            ids.setdefault(hit.category, []).append(hit.id)
        reached = [c for c, total in totals.items() if total >= self._threshold - 1e-9]
        if not reached:
            return None
        rank = {ShieldVerdict.CONTROL: 3, ShieldVerdict.HARD_VETO: 2, ShieldVerdict.SOFT_VETO: 1}
        best = max(reached, key=lambda c: (rank.get(self._verdicts[c], 0), totals[c]))
        return best, "+".join(sorted(ids[best]))
