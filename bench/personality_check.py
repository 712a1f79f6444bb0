"""CPU cost of the streaming output check per provider token (no network).

Run: PYTHONPATH=. .venv/bin/python bench/personality_check.py — prints µs per token and ms per
300-token answer, with and without the precise-figure rule.
"""

from __future__ import annotations

import re
import statistics
import time

from novaos.pipeline.gate import OutputConstraints
from novaos.pipeline.gates.personality import PersonalityChecker

_ANSWER = (
    "Clear steps help most when they are small and concrete. Start with what you know, "
    "write down the next action, and check the result before moving on. We can plan it. "
) * 10
_TOKENS = re.findall(r"\S+\s*", _ANSWER)
_ROUNDS = 300


def _harm(text: str) -> str | None:
    return "weapons" if "detonator" in text else None


def measure(no_precise_figures: bool) -> list[float]:
    checker = PersonalityChecker(_harm)
    constraints = OutputConstraints(no_precise_figures=no_precise_figures)
    per_token: list[float] = []
    for _ in range(_ROUNDS):
        stream = checker.open(constraints)
        started = time.perf_counter()
        for token in _TOKENS:
            stream.feed(token)
        stream.finish()
        per_token.append((time.perf_counter() - started) / len(_TOKENS) * 1e6)
    return per_token


def main() -> None:
    for figures in (False, True):
        samples = sorted(measure(figures))
        p50 = statistics.median(samples)
        p99 = samples[int(len(samples) * 0.99) - 1]
        print(
            f"no_precise_figures={figures}: {len(_TOKENS)} tokens/answer, "
            f"p50 {p50:.1f} us/token, p99 {p99:.1f} us/token, "
            f"~{p50 * 300 / 1000:.2f} ms per 300-token answer"
        )


if __name__ == "__main__":
    main()
