"""The shield's learned second opinion: features, decisions, and how the rules use it."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import pytest

from novaos.domain import ChatInput, Outcome, Principal, RequestContext
from novaos.errors import PolicyError
from novaos.pipeline.facts import ShieldVerdict
from novaos.pipeline.gate import GateInput
from novaos.pipeline.gates.shield import ShieldClassifier
from novaos.pipeline.gates.shield_gate import ShieldGate
from novaos.pipeline.gates.shield_model import (
    FEATURE_VERSION,
    MODEL_FILE,
    ShieldModel,
    default_model,
    features,
    fitted_digest,
    model_from_dict,
    training_digest,
)

DATA = Path(__file__).resolve().parents[2] / "data"
CLASSES = ["benign", "self_harm", "weapons"]
VERDICTS = {"self_harm": "control", "weapons": "hard_veto"}


def tiny(**weights: list[float]) -> ShieldModel:
    """A hand-made model: each given feature pushes towards its classes."""
    return ShieldModel(
        CLASSES, [2.0, 0.0, 0.0], weights, {"control": 0.6, "hard_veto": 0.6}, VERDICTS, "t"
    )


def test_features_are_binary_unit_length_and_never_pair_across_a_guard() -> None:
    found = features(" ab cd | ef ")
    assert math.isclose(sum(v * v for v in found.values()), 1.0)
    assert len(set(found.values())) == 1
    assert {"w:ab", "w:cd", "w:ef", "b:ab cd", " ab", "ab ", " ab "} <= set(found)
    assert "b:cd ef" not in found  # a masked span stands between them
    assert features("  |  ") == {}


def test_decide_takes_the_verdict_whose_share_passes_its_threshold() -> None:
    model = tiny(**{"w:zzqx": [0.0, 60.0, 0.0], "w:vvbn": [0.0, 0.0, 60.0]})
    hit = model.decide(" zzqx ")
    assert hit is not None and hit.category == "self_harm" and hit.probability > 0.6
    hit = model.decide(" vvbn ")
    assert hit is not None and hit.category == "weapons"
    assert model.decide(" hello there ") is None  # the intercept keeps it benign


def test_a_category_a_guard_switched_off_is_not_decided() -> None:
    model = tiny(**{"w:vvbn": [0.0, 0.0, 60.0]})
    assert model.decide(" vvbn ", suppressed={"weapons"}) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feature_version": FEATURE_VERSION + 1}, "feature_version"),
        ({"intercept": [0.0]}, "every weight row needs 3 values"),
        ({"weights": {"w:a": [1.0]}}, "every weight row needs 3 values"),
        ({"classes": None}, "malformed"),
    ],
)
def test_a_bad_model_file_is_a_policy_error_naming_it(change: dict, message: str) -> None:  # type: ignore[type-arg]
    data = {
        "version": "x",
        "feature_version": FEATURE_VERSION,
        "classes": CLASSES,
        "verdicts": VERDICTS,
        "thresholds": {"control": 0.6},
        "intercept": [0.0, 0.0, 0.0],
        "weights": {"w:a": [0.0, 1.0, 0.0]},
    } | change
    with pytest.raises(PolicyError, match=MODEL_FILE) as err:
        model_from_dict(data)
    assert message in str(err.value)


def test_the_classifier_stops_what_only_the_model_sees() -> None:
    shield = ShieldClassifier(model=tiny(**{"w:zzqx": [0.0, 60.0, 0.0]}))
    facts = shield.classify("zzqx tonight")
    assert facts.verdict is ShieldVerdict.CONTROL
    assert facts.category == "self_harm"
    assert facts.matched.startswith("model:")
    assert "model" in facts.flags
    assert ShieldClassifier(model=None).classify("zzqx tonight").verdict is ShieldVerdict.PASS


def test_a_crisis_only_the_model_saw_two_turns_ago_still_counts() -> None:
    shield = ShieldClassifier(model=tiny(**{"w:zzqx": [0.0, 60.0, 0.0]}))
    facts = shield.classify("yes tonight", history=["zzqx tonight", "ok"])
    assert facts.verdict is ShieldVerdict.CONTROL
    assert "history" in facts.flags


def test_an_earlier_turn_the_model_would_veto_does_not_veto_this_one() -> None:
    shield = ShieldClassifier(model=tiny(**{"w:vvbn": [0.0, 0.0, 60.0]}))
    assert shield.classify("thanks", history=["vvbn tonight"]).verdict is ShieldVerdict.PASS


def test_the_model_is_not_asked_about_a_message_a_guard_read_as_benign() -> None:
    # "kill the process" is a tech guard; without its words the rest means nothing.
    assert ShieldClassifier(model=None).model_view("how do I kill the process on port 80") is None
    shield = ShieldClassifier(model=tiny(**{"w:port": [0.0, 0.0, 60.0]}))
    assert shield.classify("how do I kill the process on port 80").verdict is ShieldVerdict.PASS
    assert shield.classify("open port scanner").verdict is ShieldVerdict.HARD_VETO


def test_the_model_reads_a_message_without_its_cues() -> None:
    # One cue alone passes (the cue layer adds cues up); the model must not
    # weigh the cue's words a second time, but still reads the rest.
    shield = ShieldClassifier(model=tiny(**{"w:anymore": [0.0, 60.0, 0.0]}))
    view = shield.model_view("I can't do this anymore at work today")
    assert view is not None and "|" in view and "anymore" not in view.split()
    assert shield.classify("I can't do this anymore").verdict is ShieldVerdict.PASS
    assert shield.classify("seriously anymore tonight").verdict is ShieldVerdict.CONTROL
    whole = shield.model_view("I can't do this anymore at work", cues=False)
    assert whole is not None and "anymore" in whole.split()  # what training reads


def test_the_model_is_not_asked_about_a_message_with_too_little_to_read() -> None:
    shield = ShieldClassifier(model=tiny(**{"w:zzqx": [0.0, 60.0, 0.0]}))
    assert shield.model_view("zzqx") is None  # one word: it would decide on its prior
    assert shield.model_view("i am zzqx") is None  # the rest are stopwords
    assert shield.classify("zzqx").verdict is ShieldVerdict.PASS
    assert shield.classify("zzqx tonight").verdict is ShieldVerdict.CONTROL


def test_a_rules_soft_veto_is_not_raised_by_the_model() -> None:
    message = "I'm going to put my entire life savings into one crypto coin today"
    assert ShieldClassifier(model=None).classify(message).verdict is ShieldVerdict.SOFT_VETO
    words = {f"w:{w}": [0.0, 0.0, 60.0] for w in ("life", "savings", "crypto")}
    assert ShieldClassifier(model=tiny(**words)).classify(message).verdict is (
        ShieldVerdict.SOFT_VETO
    )


def test_the_packaged_model_was_trained_on_the_data_in_the_repository() -> None:
    """Editing tests/data/shield_train, the labelled set or the policy needs a
    retrain (``make shield-model``); the file records what it was fitted on."""
    data = json.loads(
        resources.files("novaos.pipeline.policy").joinpath(MODEL_FILE).read_text("utf-8")
    )
    development = [DATA / "shield_labelled.jsonl", DATA / "shield_phone.jsonl"]
    files = [*development, *sorted((DATA / "shield_train").glob("*.jsonl"))]
    assert len(files) > 1
    assert data["training_sha256"] == training_digest(files)
    # It read messages through this policy's normalisation and guards.
    assert data["policy_version"] == ShieldClassifier(model=None).policy_version
    assert default_model().version == data["version"]
    # The version names the fit: other weights or thresholds, another version.
    assert data["version"] == f"{data['policy_version']}+model.{fitted_digest(data)[:12]}"


@pytest.mark.parametrize(
    "message",
    [
        "i wanna end it",
        "i wrote goodbye letters to everyone tonight",
        "nobody would even notice if i was gone for good",
    ],
)
def test_the_packaged_model_reads_crisis_phrasings_on_its_own(
    message: str,
) -> None:
    text = ShieldClassifier(model=None).model_view(message)
    assert text is not None
    hit = default_model().decide(text)
    assert hit is not None and hit.category == "self_harm", hit
    assert ShieldClassifier().classify(message).verdict is ShieldVerdict.CONTROL


async def test_the_gate_reason_names_a_verdict_only_the_model_reached() -> None:
    classifier = ShieldClassifier(model=tiny(**{"w:zzqx": [0.0, 60.0, 0.0]}))
    gate = ShieldGate(classifier, None)
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"), client_addr="")
    result = await gate.check(GateInput(ctx=ctx, chat=ChatInput(message="zzqx tonight")))
    assert result.outcome is Outcome.CONTROL
    assert result.reason.startswith("control:self_harm (model:")
    rules = await gate.check(GateInput(ctx=ctx, chat=ChatInput(message="I want to kill myself")))
    assert rules.reason == "control:self_harm"


def test_an_end_it_the_rules_read_as_a_relationship_is_a_possible_crisis_to_the_model() -> None:
    # The 11.9 rules pass "end it" after a partner is named (the relationship,
    # not a life); the model reads it as a possible crisis, and the shield errs
    # towards resources when "end it" may mean a life.
    message = "me and my bf keep fighting and honestly i wanna end it"
    assert ShieldClassifier(model=None).classify(message).verdict is ShieldVerdict.PASS
    assert ShieldClassifier().classify(message).verdict is ShieldVerdict.CONTROL
