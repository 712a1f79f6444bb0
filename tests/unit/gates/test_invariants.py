from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from novaos.domain import Outcome, SparkSuggestion, Stance
from novaos.pipeline.facts import ShieldFacts, ShieldVerdict
from novaos.pipeline.invariants import RunTrace, check_invariants

CRISIS = "If you are in danger, call or text 988."
SPARK = SparkSuggestion("walk", 10)
OK = RunTrace(
    outcome=Outcome.COMPLETED,
    stance=Stance.SWORD,
    shield=ShieldFacts(ShieldVerdict.PASS),
    model_called=True,
    released_text="Here is a plan.",
    spark=SPARK,
)


def test_a_normal_run_holds() -> None:
    assert check_invariants(OK) == ()


@pytest.mark.parametrize(
    ("trace", "violation"),
    [
        (replace(OK, shield=ShieldFacts(ShieldVerdict.HARD_VETO)), "hard veto reached the model"),
        (replace(OK, shield=None), "model called without a shield verdict"),
        (
            replace(OK, shield=ShieldFacts(ShieldVerdict.SOFT_VETO)),
            "soft veto without a valid ack reached the model",
        ),
        (
            replace(
                OK,
                outcome=Outcome.CONTROL,
                stance=Stance.CONTROL,
                shield=ShieldFacts(ShieldVerdict.CONTROL),
                model_called=False,
                released_text="Please talk to someone. " + CRISIS,
                crisis_block=CRISIS,
                spark=None,
            ),
            "control response does not start with the crisis block",
        ),
        (
            replace(OK, shield=ShieldFacts(ShieldVerdict.CONTROL), model_called=False),
            "crisis verdict and control outcome disagree",
        ),
        (replace(OK, released_text="Done. I'm always here for you."), "banned phrase"),
        (replace(OK, stance=Stance.LENS), "spark outside sword stance"),
        (replace(OK, terminal_events=2), "2 terminal events"),
        (replace(OK, terminal_events=0), "0 terminal events"),
    ],
)
def test_each_violation_is_reported(trace: RunTrace, violation: str) -> None:
    assert any(violation in v for v in check_invariants(trace))


def test_acknowledged_soft_veto_may_reach_the_model() -> None:
    shield = ShieldFacts(ShieldVerdict.SOFT_VETO, ack_accepted=True)
    trace = replace(OK, shield=shield, stance=Stance.SHIELD, spark=None)
    assert check_invariants(trace) == ()


def test_control_with_block_first_holds() -> None:
    trace = RunTrace(
        outcome=Outcome.CONTROL,
        stance=Stance.CONTROL,
        shield=ShieldFacts(ShieldVerdict.CONTROL),
        model_called=False,
        released_text=CRISIS + "\nYou matter.",
        crisis_block=CRISIS,
    )
    assert check_invariants(trace) == ()


@settings(max_examples=300, deadline=None)
@given(
    verdict=st.sampled_from(list(ShieldVerdict)),
    acked=st.booleans(),
    model_called=st.booleans(),
    stance=st.sampled_from(list(Stance)),
    spark=st.booleans(),
)
def test_invariants_match_the_policy(
    verdict: ShieldVerdict, acked: bool, model_called: bool, stance: Stance, spark: bool
) -> None:
    control = verdict is ShieldVerdict.CONTROL
    trace = RunTrace(
        outcome=Outcome.CONTROL if control else Outcome.COMPLETED,
        stance=stance,
        shield=ShieldFacts(verdict, ack_accepted=acked),
        model_called=model_called,
        released_text=CRISIS if control else "text",
        crisis_block=CRISIS,
        spark=SPARK if spark else None,
    )
    may_call = verdict is ShieldVerdict.PASS or (verdict is ShieldVerdict.SOFT_VETO and acked)
    allowed = (may_call or not model_called) and (not spark or stance is Stance.SWORD)
    assert (check_invariants(trace) == ()) is allowed


@pytest.mark.parametrize(
    "released",
    ["Rest. I'm *always* here for you.", "I'm so **proud** of you", "You're _so_ amazing!"],
)
def test_a_banned_phrase_with_markup_inside_is_a_violation(released: str) -> None:
    trace = replace(OK, released_text=released)
    assert any("banned phrase" in v for v in check_invariants(trace))
