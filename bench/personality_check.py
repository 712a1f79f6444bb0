"""CPU cost of the streaming output check per provider token (no network).

Run: PYTHONPATH=. .venv/bin/python bench/personality_check.py — prints µs per token and ms per
300-token answer, with and without the precise-figure rule, for a plain ASCII answer and for one
with curly quotes, accents, no-break spaces and emoji (the rules read non-ASCII text through
``readable``, the ASCII one mostly as it is).
"""

from __future__ import annotations

import itertools
import re
import statistics
import time

from novaos.pipeline.gate import OutputConstraints
from novaos.pipeline.gates.personality import PersonalityChecker

_ANSWER = (
    "Clear steps help most when they are small and concrete. Start with what you know, "
    "write down the next action, and check the result before moving on. We can plan it. "
) * 10
_UNICODE_ANSWER = (
    "Clear steps help most when they’re small — and concrete. Start with what you know "
    "(café notes, 10 min), write down the next action 📝, and check the result "
    "before moving on. We can plan it.  "
) * 10
_ANSWERS = {
    "ascii": re.findall(r"\S+\s*", _ANSWER),
    "unicode": re.findall(r"\S+\s*", _UNICODE_ANSWER),
}
_ROUNDS = 300


def _harm(text: str) -> str | None:
    return "weapons" if "detonator" in text else None


def measure(no_precise_figures: bool, tokens: list[str]) -> list[float]:
    checker = PersonalityChecker(_harm)
    constraints = OutputConstraints(no_precise_figures=no_precise_figures)
    per_token: list[float] = []
    for _ in range(_ROUNDS):
        stream = checker.open(constraints)
        started = time.perf_counter()
        for token in tokens:
            stream.feed(token)
        stream.finish()
        per_token.append((time.perf_counter() - started) / len(tokens) * 1e6)
    return per_token


def main() -> None:
    for (name, tokens), figures in itertools.product(_ANSWERS.items(), (False, True)):
        samples = sorted(measure(figures, tokens))
        p50 = statistics.median(samples)
        p99 = samples[int(len(samples) * 0.99) - 1]
        print(
            f"{name} no_precise_figures={figures}: {len(tokens)} tokens/answer, "
            f"p50 {p50:.1f} us/token, p99 {p99:.1f} us/token, "
            f"~{p50 * 300 / 1000:.2f} ms per 300-token answer"
        )


if __name__ == "__main__":
    main()
