"""What scrubbing the gateway's secrets out of a provider's text costs.

    .venv/bin/python -m bench.redaction_bench [size_bytes] [extra_secret ...]

For each text shape, at ``size_bytes`` (default 1 MiB, an error event's limit),
prints the thread CPU time (best of 5) of ``SecretScrubber`` and of two
baselines measured in the same run: the literal forms alone (as written,
URL-encoded, minimally escaped, base64: one alternation of literals, the floor)
and the escaped spellings looked for on every text (what the scrubber did
before it pre-filtered). The ratios are to the literal forms. An extra secret
(one with a backslash, say) is added to the 8 below.
"""

from __future__ import annotations

import random
import string
import sys
import time
from collections.abc import Callable
from functools import partial

from novaos.redaction import SECRET_MARK, SecretScrubber

SECRETS = [
    "sk-proj-" + "A1b2C3d4" * 6,
    "sk-ant-api03-" + "xY9-" * 20,
    "AIzaSy" + "Q" * 33,
    "sk-compat-local-key-123",
    "s" * 40 + "signing",
    "audit-key-" + "z" * 32,
    "redispass123",
    "pgpassword99",
]


def _fill(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _printable(size: int) -> str:
    rng = random.Random(7)
    return "".join(rng.choice(string.printable) for _ in range(size))


SHAPES: dict[str, Callable[[int], str]] = {
    "x": lambda n: _fill("x", n),
    "random printable": _printable,
    "near-miss prefixes": lambda n: _fill("sk-proj-A1b2 AIzaSyQQ redispass12 ", n),
    "\\u00xx escapes": lambda n: _fill("\\u00e9\\u00fc ", n),
    "\\\\u0073 escaped backslashes": lambda n: _fill("\\\\u0073", n),
    "short escapes": lambda n: _fill('\\n\\t\\"\\/ word ', n),
}


def _cpu(call: Callable[[str], object], text: str, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        call(text)
        best = min(best, time.thread_time() - start)
    return best


def main(size: int, extra: list[str]) -> None:
    scrub = SecretScrubber.of(SECRETS + extra)
    literal = scrub._pattern
    spellings = scrub._json
    assert literal is not None and spellings is not None

    def always_spelled(text: str) -> str:
        return spellings.spelled.sub(SECRET_MARK, literal.sub(SECRET_MARK, text))

    print(f"{len(SECRETS) + len(extra)} secrets, {size} characters; ms, and x the literal forms")
    print(f"{'text':30} {'literal':>9} {'scrubber':>9} {'x':>6} {'always spelled':>15} {'x':>6}")
    for name, shape in SHAPES.items():
        text = shape(size)
        base = _cpu(partial(literal.sub, SECRET_MARK), text)
        now = _cpu(scrub, text)
        old = _cpu(always_spelled, text)
        floor = max(base, 1e-6)
        print(
            f"{name:30} {base * 1e3:9.1f} {now * 1e3:9.1f} {now / floor:6.1f}"
            f" {old * 1e3:15.1f} {old / floor:6.1f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 20, sys.argv[2:])
