"""Fit the output check's learned reading of answers for self-harm and write
novaos/pipeline/policy/output_model.json.

    python scripts/train_output_model.py [--benign-fp 0.015] [--floor 0.6] [--c 16]
                                          [--hard-negative-weight 3]

The rules read answers for the hard-veto categories; self-harm instructions
in an answer ("take the whole bottle tonight, when nobody is home") take too
many shapes for a rule that spares crisis-line and dosing answers, which share
their words. This fits a two-class logistic regression (scikit-learn) on
answer-shaped text: ``tests/data/shield_outputs_self_harm.jsonl`` (the
development set) and ``tests/data/shield_outputs_train/*.jsonl``, against
their benign answers, the benign answers of ``shield_outputs.jsonl`` (weapons,
hacking, ... answers are the rules' business and left out) and the benign
messages of the shield's training sets (everyday words, never an answer's
harm). Never the held-out sets (``shield_outputs_self_harm_heldout*.jsonl``),
which measure it.

Each text goes through the shield's normalisation and benign guards
(``ShieldClassifier.answer_view``: what the check reads when serving), then
``shield_model.features``. The threshold is the lowest probability that stops
at most ``--benign-fp`` of the benign look-alike answers out of fold (everyday
answers would make the budget easy to meet), never below ``--floor``. ``make
output-model`` runs this; a test checks the file was fitted on the data in the
repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from novaos.pipeline.facts import SELF_HARM  # noqa: E402
from novaos.pipeline.gates.shield import ShieldClassifier  # noqa: E402
from novaos.pipeline.gates.shield_model import (  # noqa: E402
    FEATURE_VERSION,
    OUTPUT_MODEL_FILE,
    features,
    fitted_digest,
    training_digest,
)

DATA = ROOT / "tests" / "data"
OUT = ROOT / "novaos" / "pipeline" / "policy" / OUTPUT_MODEL_FILE
CATEGORY = SELF_HARM
PRUNE = 0.05


def answer_files() -> list[Path]:
    """Answer-shaped text, harmful and benign (also what the digest covers)."""
    return [
        DATA / "shield_outputs_self_harm.jsonl",
        *sorted((DATA / "shield_outputs_train").glob("*.jsonl")),
        DATA / "shield_outputs.jsonl",
    ]


def message_files() -> list[Path]:
    """Users' messages: only their benign ones are read, as everyday words."""
    return [DATA / "shield_labelled.jsonl", *sorted((DATA / "shield_train").glob("*.jsonl"))]


def training_files() -> list[Path]:
    return [*answer_files(), *message_files()]


def _rows(path: Path) -> list[dict[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def dataset(
    shield: ShieldClassifier, hard_negative_weight: float
) -> tuple[list[str], list[int], list[float], list[str]]:
    """Each text as the check reads it, 1 for a self-harm answer, its weight, and
    its kind: ``harmful``, ``lookalike`` (a benign answer on the harmful ones'
    topics: dosing, crisis lines, first aid, idioms, secrecy for a surprise),
    ``everyday`` (a benign answer on anything else) or ``message`` (a user's).

    Benign answers weigh ``hard_negative_weight`` times a message: they share
    the harmful answers' words (pills, a bottle, nobody home) and are far
    fewer than the messages."""
    texts, labels, weights, kinds = [], [], [], []
    for path in answer_files():
        for row in _rows(path):
            if row["label"] == "benign":
                labels.append(0)
                weights.append(hard_negative_weight)
                kinds.append("everyday" if row.get("category") == "everyday" else "lookalike")
            elif row.get("category") == CATEGORY:
                labels.append(1)
                weights.append(1.0)
                kinds.append("harmful")
            else:
                continue  # another category: the rules read it
            texts.append(shield.answer_view(row["text"]))
    for path in message_files():
        for row in _rows(path):
            if row["label"] == "benign":
                texts.append(shield.answer_view(row["text"]))
                labels.append(0)
                weights.append(1.0)
                kinds.append("message")
    return texts, labels, weights, kinds


def fit(x: object, y: np.ndarray, w: np.ndarray, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    model.fit(x, y, sample_weight=w)
    return model


def out_of_fold(x: object, y: np.ndarray, w: np.ndarray, c: float) -> np.ndarray:
    """Each text's probability of self-harm from a model that did not see it."""
    probs = np.zeros(len(y))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=7)
    for train, test in folds.split(np.zeros(len(y)), y):
        model = fit(x[train], y[train], w[train], c)  # type: ignore[index]
        probs[test] = model.predict_proba(x[test])[:, 1]  # type: ignore[index]
    return probs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--benign-fp",
        type=float,
        default=0.015,
        help="share of the benign look-alike answers (out of fold) the check may stop: "
        "a stop cuts an answer mid-stream, and the benign answers that come near are "
        "crisis-line, dosing and first-aid answers (everyday ones rarely do)",
    )
    parser.add_argument("--floor", type=float, default=0.6, help="lowest threshold")
    parser.add_argument("--c", type=float, default=16.0, help="inverse regularisation strength")
    parser.add_argument(
        "--hard-negative-weight",
        type=float,
        default=3.0,
        help="weight of a benign answer (a benign user message weighs 1)",
    )
    parser.add_argument(
        "--compare-fp",
        type=float,
        nargs="*",
        default=[],
        metavar="FP",
        help="also print the threshold and out-of-fold recall these --benign-fp would give",
    )
    args = parser.parse_args()

    # Normalised as when serving: with the shield model's words known.
    shield = ShieldClassifier(output_model=None)
    texts, labels, sample_weights, kinds = dataset(shield, args.hard_negative_weight)
    vec = DictVectorizer()
    x = vec.fit_transform([features(t) for t in texts])
    y = np.array(labels)
    w = np.array(sample_weights)
    kind = np.array(kinds)
    oof = out_of_fold(x, y, w, args.c)
    lookalikes = np.sort(oof[kind == "lookalike"])[::-1]

    def cut(fp: float) -> float:
        allowed = int(fp * len(lookalikes))
        return round(float(max(lookalikes[allowed] + 1e-4, args.floor)), 4)

    for fp in [args.benign_fp, *args.compare_fp]:
        threshold = cut(fp)
        stop = oof >= threshold
        shares = ", ".join(
            f"{k} {stop[kind == k].mean():.4f} ({(kind == k).sum()})"
            for k in ("lookalike", "everyday", "message")
        )
        print(
            f"--benign-fp {fp}: threshold {threshold}, out-of-fold recall "
            f"{stop[y == 1].mean():.3f} ({(y == 1).sum()}); benign stopped: {shares}"
        )
    threshold = cut(args.benign_fp)
    model = fit(x, y, w, args.c)
    names = vec.get_feature_names_out()
    # Two classes read as the shield model's softmax: benign's scores are 0,
    # so the share of self-harm is the regression's own probability.
    weights = {
        str(name): [0.0, round(float(v), 3)]
        for name, v in zip(names, model.coef_[0], strict=True)
        if abs(v) >= PRUNE
    }
    fitted = {
        "classes": ["benign", CATEGORY],
        "verdicts": {CATEGORY: "control"},
        "thresholds": {"control": threshold},
        "intercept": [0.0, round(float(model.intercept_[0]), 4)],
        "weights": dict(sorted(weights.items())),
    }
    out = {
        "version": f"output.{fitted_digest(fitted)[:12]}",
        "feature_version": FEATURE_VERSION,
        "training_sha256": training_digest(training_files()),
        # What the model reads depends on the policy's normalisation and guards,
        # and on the words the shield model knows.
        "shield_version": shield.version,
        "texts": len(texts),
        "params": {
            "c": args.c,
            "floor": args.floor,
            "benign_fp": args.benign_fp,
            "hard_negative_weight": args.hard_negative_weight,
        },
        **fitted,
    }
    OUT.write_text(json.dumps(out, separators=(",", ":"), ensure_ascii=False) + "\n", "utf-8")
    print(f"{len(texts)} texts, {len(weights)} of {len(names)} features")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
