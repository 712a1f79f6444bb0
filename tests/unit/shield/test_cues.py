"""The weak-cue layer: one hint never stops, independent hints together do."""

from __future__ import annotations

import json

import pytest

from novaos.errors import PolicyError
from novaos.pipeline.facts import ShieldVerdict
from novaos.pipeline.gates.shield import ShieldClassifier
from novaos.pipeline.policy import load_policy, packaged_file


@pytest.mark.parametrize(
    "text",
    [
        "I can't do this anymore",
        "I'm so tired of everything",
        "I've been giving away my things",
        "ich kann nicht mehr",
        "je n'en peux plus",
    ],
)
def test_one_cue_alone_passes(classifier: ShieldClassifier, text: str) -> None:
    assert classifier.classify(text).verdict is ShieldVerdict.PASS


@pytest.mark.parametrize(
    "text",
    [
        "I can't do this anymore and I'm so tired of everything",
        "I've been giving my things away, I won't be needing them",
        "ich kann nicht mehr und will einfach verschwinden",
        "je n'en peux plus, je veux que tout s'arrête",
        "ya no aguanto más, soy una carga para todos",
        "não aguento mais, quero sumir",
    ],
)
def test_two_cues_give_control(classifier: ShieldClassifier, text: str) -> None:
    facts = classifier.classify(text)
    assert facts.verdict is ShieldVerdict.CONTROL
    assert facts.matched.startswith("cues:")
    assert "cues" in facts.flags


def test_cues_add_up_across_recent_turns(classifier: ShieldClassifier) -> None:
    history = ["honestly I can't do this anymore"]
    facts = classifier.classify("I'm so tired of everything, anyway what's for dinner", history)
    assert facts.verdict is ShieldVerdict.CONTROL
    assert classifier.classify("what's for dinner", history).verdict is ShieldVerdict.PASS


def test_the_same_cue_twice_counts_once(classifier: ShieldClassifier) -> None:
    facts = classifier.classify("I can't do this anymore", ["I can't do this anymore"])
    assert facts.verdict is ShieldVerdict.PASS


def test_guards_mask_cues(classifier: ShieldClassifier) -> None:
    # "disappear to a cabin" is a getaway, so only the finality cue is left.
    text = "I want to disappear to a cabin in the woods for good"
    assert classifier.classify(text).verdict is ShieldVerdict.PASS


def _with_cue(weight: float, category: str = "self_harm") -> object:
    def reader(file: str) -> str:
        text = packaged_file(file)
        if file != "rules_en.json":
            return text
        data = json.loads(text)
        data["cues"] = [{"id": "x", "category": category, "weight": weight, "pattern": "a"}]
        return json.dumps(data)

    return reader


@pytest.mark.parametrize(
    ("weight", "category", "message"),
    [(1.0, "self_harm", "never decides alone"), (0.5, "nope", "unknown category")],
)
def test_invalid_cues_are_refused(weight: float, category: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        load_policy(_with_cue(weight, category))  # type: ignore[arg-type]


def test_the_cue_filters_skip_only_cues_that_could_not_match(classifier: ShieldClassifier) -> None:
    """``find`` looks up cues by their opening words and a string each match
    needs; on every labelled text it finds exactly what trying every cue does."""
    from bench.shield_scores import DATA, load_rows
    from novaos.pipeline.gates.normalize import normalize

    scorer = classifier._cues
    texts = [
        text
        for name in ("shield_labelled.jsonl", "shield_phone.jsonl")
        for row in load_rows(DATA / name)
        for text in (row.text, *row.history)
    ]
    assert any(cue.needs for cue in scorer._cues)
    for text in texts:
        views = classifier._masked(normalize(text, classifier._common, classifier._vocabulary))
        every = {
            cue.hit
            for view in views
            for cue in scorer._cues
            if cue.hit.category not in view.suppressed and cue.regex.search(view.text)
        }
        assert scorer.find(views) == every, text
