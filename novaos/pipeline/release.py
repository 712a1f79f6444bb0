"""Hold-back release of streamed text by sentence.

``SentenceRelease`` is the output check with no rules: it releases whole
sentences (or ``holdback_chars`` at most) so that deltas are coalesced and a
rule-bearing checker can replace it without changing the orchestrator.
"""

from __future__ import annotations

import re

from novaos.pipeline.gate import CheckStep, OutputConstraints, StreamCheck

_SENTENCE_END = re.compile(r"[.!?…。](?:[\"')\]]*)\s+")


def split_releasable(held: str, holdback_chars: int) -> tuple[str, str]:
    """Split ``held`` into (text safe to release, text to keep holding).

    Releases up to the last sentence end; if no sentence ends but more than
    ``holdback_chars`` are held, releases up to the last space before the bound.
    """
    last_end = 0
    for match in _SENTENCE_END.finditer(held):
        last_end = match.end()
    if last_end:
        return held[:last_end], held[last_end:]
    if len(held) > holdback_chars:
        cut = held.rfind(" ", 0, len(held) - 0)
        cut = cut + 1 if cut > 0 else len(held)
        return held[:cut], held[cut:]
    return "", held


class SentenceReleaseCheck:
    def __init__(self, holdback_chars: int) -> None:
        self._held = ""
        self._bound = holdback_chars

    def feed(self, text: str) -> CheckStep:
        self._held += text
        release, self._held = split_releasable(self._held, self._bound)
        return CheckStep(release=release)

    def finish(self) -> CheckStep:
        release, self._held = self._held, ""
        return CheckStep(release=release)

    def whole(self, text: str) -> list[CheckStep]:
        # Fed piece by piece it would all come out, unchanged.
        self.feed(text)
        return [self.finish()]


class SentenceRelease:
    """OutputChecker that only paces release; it enforces no rules."""

    def open(self, constraints: OutputConstraints, *, whole: bool = False) -> StreamCheck:
        return SentenceReleaseCheck(constraints.holdback_chars)
