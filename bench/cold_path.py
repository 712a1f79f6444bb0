"""What an idle gap costs the next piece of work on this machine.

    python -m bench.cold_path [--runs 200]

At concurrency 1 a gateway sleeps while the upstream generates (~53 ms in the
bench), then does its post-answer work (output checks, audit, reply) with cold
caches on a core that has been idle. This times the same CPU-bound step (the
shield classifying the bench prompt) back to back and after idle gaps, so
the c=1 figures can be read against it: the slower the step after a gap, the
more a gateway's c=1 latency depends on how much code it touches per request.
"""

from __future__ import annotations

import argparse
import time

from bench.loadgen import PROMPT
from bench.report import pct
from novaos.pipeline.gates.shield import ShieldClassifier

GAPS_S = (0.0, 0.001, 0.01, 0.05)


def measure(classifier: ShieldClassifier, gap_s: float, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        if gap_s:
            time.sleep(gap_s)
        t0 = time.perf_counter()
        classifier.classify(PROMPT, ())
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args(argv)
    classifier = ShieldClassifier()
    measure(classifier, 0.0, 200)  # warm: compiled patterns, caches
    hot = pct(measure(classifier, 0.0, args.runs), 0.5)
    print("| idle gap before the step | shield classify p50 (us) | x back to back |")
    print("|---|---|---|")
    for gap in GAPS_S:
        p50 = pct(measure(classifier, gap, args.runs), 0.5)
        print(f"| {gap * 1000:g} ms | {p50 * 1000:.0f} | {p50 / hot:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
