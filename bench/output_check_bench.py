"""CPU cost of the shield's output check per released sentence, on a stream.

Run from the repository root: python -m bench.output_check_bench [--passes 5]

Every answer of ``tests/data/shield_outputs.jsonl`` (its harmful rows after a
benign sentence, as a model would write them; the two kinds timed apart, as
a harmful answer's last check reads the guards and scans again) is streamed word by word through
the personality gate with ``ShieldClassifier.classify_answer`` as its harm
check, as ``app.py`` wires it, and with ``classify_output`` (the rules alone,
without the output model: the baseline, measured in the same run); each call
the gate makes (one per released sentence, on the released tail, the sentence
and the held text) is timed in thread CPU time.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import statistics
import time
from collections.abc import Callable

from bench.shield_scores import DATA
from novaos.pipeline.gate import OutputConstraints
from novaos.pipeline.gates.personality import PersonalityChecker
from novaos.pipeline.gates.shield import ShieldClassifier

_WORDS = re.compile(r"\S+\s*")
_LEAD = "Clouds are made of tiny water droplets. "


def _answers(label: str) -> list[str]:
    rows = [json.loads(line) for line in (DATA / "shield_outputs.jsonl").open(encoding="utf-8")]
    return [(_LEAD if label == "harmful" else "") + r["text"] for r in rows if r["label"] == label]


def measure(check: Callable[[str], str | None], answers: list[str], passes: int) -> list[float]:
    cpu: list[float] = []

    def timed(text: str) -> str | None:
        c0 = time.thread_time()
        found = check(text)
        cpu.append(time.thread_time() - c0)
        return found

    checker = PersonalityChecker(timed)
    for _ in range(passes):
        for answer in answers:
            stream = checker.open(OutputConstraints())
            for word in _WORDS.findall(answer):
                if stream.feed(word).action != "continue":
                    break
            else:
                stream.finish()
    return sorted(cpu)


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    classifier = ShieldClassifier()
    print(f"output check, CPU per check, {args.passes} passes\n")
    print("| answers | check | checks | p50 ms | p90 ms | p99 ms | max ms | mean ms |")
    print("|---|---|---|---|---|---|---|---|")
    checks = {"rules": classifier.classify_output, "rules + model": classifier.classify_answer}
    for label in ("benign", "harmful"):
        answers = _answers(label)
        for name, check in checks.items():
            measure(check, answers, 1)  # warm-up: guard subsets compiled
            gc.collect()
            cpu = measure(check, answers, args.passes)
            cells = [_percentile(cpu, q) * 1000 for q in (0.5, 0.9, 0.99)]
            cells += [cpu[-1] * 1000, statistics.fmean(cpu) * 1000]
            row = " | ".join(f"{c:.3f}" for c in cells)
            print(f"| {len(answers)} {label} | {name} | {len(cpu)} | {row} |")


if __name__ == "__main__":
    main()
