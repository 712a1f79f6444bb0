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

Then a unary Chat's check of a whole answer (10,000 characters of everyday
answers) with the model: the longest the event loop went without running a
1 ms ticker while it ran, judged on the loop and in a worker thread as
``novaos.pipeline.generation`` does for answers over 1,000 characters (both in
the same run; the check's own wall time beside it).
"""

from __future__ import annotations

import argparse
import asyncio
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


def _everyday(chars: int) -> str:
    path = DATA / "shield_outputs_train" / "everyday_answers.jsonl"
    text = ""
    for line in path.open(encoding="utf-8"):
        text += json.loads(line)["text"].strip() + " "
        if len(text) >= chars:
            break
    return text[:chars]


async def _stall(judge: Callable[[], object], off_loop: bool) -> tuple[float, float]:
    """The longest gap between a 1 ms ticker's runs while ``judge`` ran, and its wall time."""
    gaps: list[float] = []
    running = True

    async def tick() -> None:
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.01)
    gaps.clear()
    t0 = time.perf_counter()
    if off_loop:
        await asyncio.to_thread(judge)
    else:
        judge()
        await asyncio.sleep(0)
    wall = time.perf_counter() - t0
    await asyncio.sleep(0.005)  # the gap the inline check left is recorded
    running = False
    await ticker
    return max(gaps), wall


async def _unary_stalls(classifier: ShieldClassifier, passes: int) -> None:
    answer = _everyday(10_000)
    checker = PersonalityChecker(classifier.classify_answer)

    def judge() -> object:
        return checker.open(OutputConstraints(), whole=True).whole(answer)

    judge()  # warm-up
    print(f"\nunary whole answer, {len(answer):,} characters, {passes} passes (median)\n")
    print("| judged | longest loop stall ms | check wall ms |")
    print("|---|---|---|")
    for name, off_loop in (("on the event loop", False), ("in a worker thread", True)):
        runs = [await _stall(judge, off_loop) for _ in range(passes)]
        stall = statistics.median(r[0] for r in runs) * 1000
        wall = statistics.median(r[1] for r in runs) * 1000
        print(f"| {name} | {stall:.1f} | {wall:.1f} |")


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
    asyncio.run(_unary_stalls(classifier, args.passes))


if __name__ == "__main__":
    main()
