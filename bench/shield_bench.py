"""Shield latency: p50/p99 per message and messages/s over the labelled sets.

Run from the repository root: python -m bench.shield_bench [--passes 5]
Wall-clock figures include scheduler noise from whatever else runs on the
machine; CPU figures (thread time) are the classifier's own cost.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from bench.shield_scores import DATA, Row, load_rows
from novaos.pipeline.gates.shield import ShieldClassifier


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def measure(classifier: ShieldClassifier, rows: list[Row], passes: int) -> dict[str, list[float]]:
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(passes):
        for row in rows:
            w0, c0 = time.perf_counter(), time.thread_time()
            classifier.classify(row.text, row.history)
            cpu.append(time.thread_time() - c0)
            wall.append(time.perf_counter() - w0)
    return {"wall": sorted(wall), "cpu": sorted(cpu)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--no-model", action="store_true", help="the rules alone")
    args = parser.parse_args()
    started = time.perf_counter()
    classifier = ShieldClassifier(model=None) if args.no_model else ShieldClassifier()
    build_ms = (time.perf_counter() - started) * 1000
    rows = load_rows(DATA / "shield_labelled.jsonl")
    held_out = ("shield_heldout.jsonl", "shield_heldout2.jsonl", "shield_heldout3.jsonl")
    for name in (*held_out, "shield_heldout4.jsonl", "shield_heldout5.jsonl", "shield_phone.jsonl"):
        if (DATA / name).exists():
            rows += load_rows(DATA / name)
    measure(classifier, rows, 1)  # warm-up: first-use caches
    gc.collect()
    t0 = time.perf_counter()
    samples = measure(classifier, rows, args.passes)
    elapsed = time.perf_counter() - t0
    n = len(samples["wall"])
    print(f"shield bench: {len(rows)} messages x {args.passes} passes = {n} classifications")
    model = "rules alone" if args.no_model else "rules and the learned model"
    print(f"policy {classifier.policy_version}, {model}; built once in {build_ms:.0f} ms\n")
    print("| clock | p50 ms | p90 ms | p99 ms | max ms | mean ms |")
    print("|---|---|---|---|---|---|")
    for clock, values in samples.items():
        cells = [_percentile(values, q) * 1000 for q in (0.5, 0.9, 0.99)]
        cells += [values[-1] * 1000, statistics.fmean(values) * 1000]
        print(f"| {clock} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    print(f"\nthroughput: {n / elapsed:,.0f} messages/s on one core (wall, incl. timing overhead)")
    p99 = _percentile(samples["cpu"], 0.99) * 1000
    print(f"target p99 <= 2 ms: {'met' if p99 <= 2 else 'MISSED'} (CPU p99 {p99:.3f} ms)")
    _long_messages(classifier, rows)


def _long_messages(classifier: ShieldClassifier, rows: list[Row]) -> None:
    """Cost grows with length: time benign paragraphs of about 1 and 4 KB."""
    benign = " ".join(r.text for r in rows if r.label == "benign")
    print("\n| message chars | p50 ms | p99 ms |\n|---|---|---|")
    for size in (1000, 4000):
        text = benign[:size]
        times = []
        for _ in range(50):
            c0 = time.thread_time()
            classifier.classify(text)
            times.append(time.thread_time() - c0)
        times.sort()
        p50, p99 = (_percentile(times, q) * 1000 for q in (0.5, 0.99))
        print(f"| {len(text)} | {p50:.3f} | {p99:.3f} |")


if __name__ == "__main__":
    main()
