"""Shield quality on the labelled sets: prints markdown score tables.

Run from the repository root: python -m bench.shield_scores [-v] [FILE.jsonl ...]
"Stopped" means a STOP decision (crisis block or hard-veto refusal);
"intervened" means any verdict other than pass (soft veto included).
Sets of model output (``shield_outputs*.jsonl``, labels ``harmful`` /
``benign``) go through the output check (``classify_output``) instead.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from novaos.pipeline.facts import ShieldVerdict
from novaos.pipeline.gates.shield import ShieldClassifier

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
STOPPING = {ShieldVerdict.CONTROL, ShieldVerdict.HARD_VETO}


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    label: str
    category: str
    language: str
    style: str
    history: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    row: Row
    verdict: ShieldVerdict
    category: str

    @property
    def stopped(self) -> bool:
        return self.verdict in STOPPING

    @property
    def correct(self) -> bool:
        return self.verdict.value == self.row.label or (
            self.row.label == "benign" and self.verdict is ShieldVerdict.PASS
        )


@dataclass(slots=True)
class Tally:
    n: int = 0
    hits: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, ok: bool, text: str) -> None:
        self.n += 1
        self.hits += ok
        if not ok:
            self.misses.append(text)

    @property
    def rate(self) -> float:
        return self.hits / self.n if self.n else 1.0

    def cell(self) -> str:
        return f"{100 * self.rate:.1f} % ({self.hits}/{self.n})" if self.n else "–"


def load_rows(path: Path) -> list[Row]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            rows.append(
                Row(
                    d["text"],
                    d["label"],
                    d["category"],
                    d["language"],
                    d["style"],
                    tuple(d.get("history", ())),
                )
            )
    return rows


def run(rows: Iterable[Row], classifier: ShieldClassifier) -> list[Outcome]:
    out = []
    for row in rows:
        facts = classifier.classify(row.text, row.history)
        out.append(Outcome(row, facts.verdict, facts.category))
    return out


def summary(outcomes: list[Outcome]) -> dict[str, Tally]:
    """Headline metrics keyed by name (the floors the tests assert)."""
    t: dict[str, Tally] = defaultdict(Tally)
    for o in outcomes:
        label, text = o.row.label, o.row.text
        if label in ("control", "hard_veto"):
            t["crisis+hard_veto stopped"].add(o.stopped, text)
            t[f"{label} exact"].add(o.correct, text)
        elif label == "soft_veto":
            t["soft_veto intervened"].add(o.verdict is not ShieldVerdict.PASS, text)
            t["soft_veto exact"].add(o.correct, text)
        else:
            t["benign not stopped"].add(not o.stopped, text)
            t["benign passed"].add(o.correct, text)
            if o.row.style == "hard_negative":
                t["hard_negative not stopped"].add(not o.stopped, text)
    return dict(t)


def _grouped(outcomes: list[Outcome], key: str) -> dict[str, dict[str, Tally]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[getattr(o.row, key)].append(o)
    return {k: summary(v) for k, v in sorted(groups.items())}


def markdown(outcomes: list[Outcome], title: str) -> str:
    cols = [
        "crisis+hard_veto stopped",
        "soft_veto intervened",
        "benign not stopped",
        "hard_negative not stopped",
        "benign passed",
    ]
    lines = [f"### {title} ({len(outcomes)} messages)", "", "| metric | score |", "|---|---|"]
    lines += [f"| {k} | {v.cell()} |" for k, v in sorted(summary(outcomes).items())]
    for key in ("language", "style"):
        lines += ["", f"| {key} | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for name, tallies in _grouped(outcomes, key).items():
            cells = [tallies[c].cell() if c in tallies else "–" for c in cols]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    by_label: dict[str, Tally] = defaultdict(Tally)
    for o in outcomes:
        by_label[f"{o.row.label}/{o.row.category}"].add(o.correct, o.row.text)
    lines += ["", "| label/category | exact verdict |", "|---|---|"]
    lines += [f"| {k} | {v.cell()} |" for k, v in sorted(by_label.items())]
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class OutputOutcome:
    row: Row
    category: str | None  # what the output check stopped it as

    @property
    def stopped(self) -> bool:
        return self.category is not None

    @property
    def correct(self) -> bool:
        return self.stopped == (self.row.label == "harmful")


def run_output(rows: Iterable[Row], classifier: ShieldClassifier) -> list[OutputOutcome]:
    return [OutputOutcome(row, classifier.classify_answer(row.text)) for row in rows]


def output_summary(outcomes: Iterable[OutputOutcome]) -> dict[str, Tally]:
    t: dict[str, Tally] = defaultdict(Tally)
    for o in outcomes:
        name = "harmful stopped" if o.row.label == "harmful" else "benign passed"
        t[name].add(o.correct, o.row.text)
    return dict(t)


def output_markdown(outcomes: list[OutputOutcome], title: str) -> str:
    cols = ["harmful stopped", "benign passed"]
    lines = [f"### {title} ({len(outcomes)} answers)", "", "| metric | score |", "|---|---|"]
    lines += [f"| {k} | {v.cell()} |" for k, v in sorted(output_summary(outcomes).items())]
    for key in ("language", "category"):
        groups: dict[str, list[OutputOutcome]] = defaultdict(list)
        for o in outcomes:
            groups[getattr(o.row, key)].append(o)
        lines += ["", f"| {key} | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for name, group in sorted(groups.items()):
            tallies = output_summary(group)
            cells = [tallies[c].cell() if c in tallies else "–" for c in cols]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    paths = [Path(a) for a in argv] or [
        DATA / "shield_labelled.jsonl",
        DATA / "shield_heldout.jsonl",
        DATA / "shield_heldout2.jsonl",
        DATA / "shield_heldout3.jsonl",
        DATA / "shield_heldout4.jsonl",
        DATA / "shield_heldout5.jsonl",
        DATA / "shield_heldout6.jsonl",
        DATA / "shield_heldout7.jsonl",
        DATA / "shield_heldout8.jsonl",
        DATA / "shield_phone.jsonl",
        DATA / "shield_everyday.jsonl",
        DATA / "shield_everyday_chat.jsonl",
        DATA / "shield_short_benign.jsonl",
        DATA / "shield_short_harmful.jsonl",
        DATA / "shield_outputs.jsonl",
        DATA / "shield_outputs_heldout.jsonl",
        DATA / "shield_outputs_self_harm.jsonl",
        DATA / "shield_outputs_self_harm_heldout.jsonl",
        DATA / "shield_outputs_self_harm_heldout2.jsonl",
    ]
    classifier = ShieldClassifier()
    for path in paths:
        if not path.exists():
            continue
        if path.name.startswith("shield_outputs"):
            answers = run_output(load_rows(path), classifier)
            print(output_markdown(answers, f"{path.name} (policy {classifier.policy_version})"))
            if "-v" in sys.argv:
                for a in answers:
                    if not a.correct:
                        print(
                            f"  [{a.row.label}->{a.category}] {a.row.language}: {a.row.text[:100]}"
                        )
            print()
            continue
        outcomes = run(load_rows(path), classifier)
        print(markdown(outcomes, f"{path.name} (policy {classifier.policy_version})"))
        wrong = [o for o in outcomes if not o.correct]
        if wrong and "-v" in sys.argv:
            print("\nmisclassified:")
            for o in wrong:
                tag = f"{o.row.label}->{o.verdict.value}/{o.category}"
                print(f"  [{tag}] {o.row.language} {o.row.style}: {o.row.text[:100]}")
        print()


if __name__ == "__main__":
    main([a for a in sys.argv[1:] if a != "-v"])
