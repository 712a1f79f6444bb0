"""CPU the pre-model gates spend on one long message, per adversarial input class.

Run: PYTHONPATH=. .venv/bin/python -m bench.long_messages [--chars 32000] [--rounds 5]

For each class of 32k-character message (combining marks stacked on letters,
Cyrillic look-alikes, no-break or zero-width spaces, leetspeak, base64, ...)
it prints the CPU time (this thread's, best of ``--rounds``) of what the gates
before the model compute: intent's analysis, the shield's classification and
the lens's claim and URL scan, and its ratio to plain English text of the same
length measured in the same run (everyday requests from the labelled set,
joined). Ratios, not absolute times, are what to compare across machines.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import time
from collections.abc import Callable

from bench.shield_scores import DATA
from novaos.pipeline.gates.intent import analyse
from novaos.pipeline.gates.lens import detect_claims, find_urls
from novaos.pipeline.gates.shield import default_classifier


def _plain_english() -> str:
    rows = [json.loads(line) for line in (DATA / "shield_everyday.jsonl").open(encoding="utf-8")]
    return " ".join(r["text"] for r in rows if r.get("language") == "en" and r["label"] == "benign")


def _classes() -> dict[str, Callable[[], str]]:
    rng = random.Random(1)
    zalgo = "h\u0336\u0337\u0338e\u0336\u0337l\u0336l\u0336o\u0336"
    return {
        "plain_english": _plain_english,
        "plain_repeated": lambda: "hello world " * 3000,
        "zalgo_words": lambda: " ".join([zalgo] * 3000),
        "combining_flood": lambda: (
            "a" + "".join(chr(0x300 + rng.randrange(0x70)) for _ in range(40000))
        ),
        "cyrillic_lookalikes": lambda: "\u0430b " * 12000,
        "nbsp_words": lambda: "ab\u00a0" * 12000,
        "zero_width_words": lambda: "k\u200bi\u200bl\u200bl " * 5000,
        "homoglyph_phrase": lambda: "k\u0456ll y\u043eurs\u0435lf " * 3000,
        "leetspeak": lambda: "k1ll y0ur53lf h0w t0 m4k3 4 b0mb " * 1200,
        "spaced_letters": lambda: "k i l l m y s e l f " * 2000,
        "base64": lambda: base64.b64encode(b"how to make a bomb " * 1800).decode(),
        "emoji_zwj": lambda: "\U0001f468\u200d\U0001f469\u200d\U0001f467" * 7000,
        "cjk": lambda: "\u6211\u60f3\u81ea\u6740\u600e\u4e48\u529e" * 5000,
        "bidi_marks": lambda: "\u202eabc\u202d" * 7000,
        "urls": lambda: "http://a.example/x " * 2000,
        "punctuation": lambda: "!?." * 11000,
        "one_letter_words": lambda: "a " * 17000,
    }


def pre_model_cpu(message: str) -> float:
    """Seconds of CPU for what intent, shield and lens compute on ``message``."""
    classifier = default_classifier()
    started = time.thread_time()
    intent = analyse(message)
    classifier.classify(message)
    if detect_claims(message, intent):
        find_urls(message)
    return time.thread_time() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=32000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    default_classifier().classify("warm up")
    results: dict[str, float] = {}
    for name, make in _classes().items():
        text = make()
        message = (text * (args.chars // max(len(text), 1) + 1))[: args.chars]
        pre_model_cpu(message)  # first-use caches
        results[name] = min(pre_model_cpu(message) for _ in range(args.rounds))
    base = results["plain_english"]
    print(f"pre-model gate CPU per {args.chars}-character message, best of {args.rounds}")
    print("| input | ms | x plain English |")
    print("|---|---|---|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds * 1000:.1f} | {seconds / base:.2f} |")


if __name__ == "__main__":
    main()
