from __future__ import annotations

import pytest

from novaos.domain import Decision, Stance
from novaos.pipeline.facts import (
    CapabilityFacts,
    IntentFacts,
    LensFacts,
    Risk,
    ShieldFacts,
    ShieldVerdict,
    StanceFacts,
)
from novaos.pipeline.gate import GateResult
from novaos.pipeline.gates.capability import CapabilityGate
from novaos.pipeline.gates.stance import StanceGate
from tests.fixtures.gate_fakes import gate_input

PASS = ShieldFacts(verdict=ShieldVerdict.PASS)


def _prior(
    shield: ShieldFacts | None = PASS, kind: str = "question", lens: bool = False
) -> dict[str, GateResult]:
    prior = {
        "intent": GateResult(Decision.PASS, facts=IntentFacts(type=kind)),
        "lens": GateResult(Decision.PASS, facts=LensFacts(needs_verification=lens, degraded=lens)),
    }
    if shield is not None:
        prior["shield"] = GateResult(Decision.PASS, facts=shield)
    return prior


@pytest.mark.parametrize(
    ("shield", "kind", "lens", "stance"),
    [
        (
            ShieldFacts(verdict=ShieldVerdict.CONTROL, risk=Risk.CRITICAL),
            "action",
            False,
            "control",
        ),
        (ShieldFacts(verdict=ShieldVerdict.PASS, risk=Risk.CRITICAL), "action", False, "control"),
        (ShieldFacts(verdict=ShieldVerdict.HARD_VETO), "action", False, "shield"),
        (ShieldFacts(verdict=ShieldVerdict.SOFT_VETO, ack_accepted=True), "action", True, "shield"),
        (ShieldFacts(verdict=ShieldVerdict.PASS, risk=Risk.HIGH), "planning", False, "shield"),
        (PASS, "action", True, "lens"),
        (PASS, "question", False, "lens"),
        (PASS, "action", False, "sword"),
        (PASS, "planning", False, "sword"),
        (ShieldFacts(verdict=ShieldVerdict.PASS, risk=Risk.MEDIUM), "action", False, "lens"),
        (PASS, "conversation", False, "lens"),
        (None, "action", False, "shield"),
    ],
)
async def test_stance_priority(
    shield: ShieldFacts | None, kind: str, lens: bool, stance: str
) -> None:
    result = await StanceGate().check(gate_input("x", prior=_prior(shield, kind, lens)))
    assert result.decision is Decision.PASS
    assert result.stance is Stance(stance)
    assert result.facts == StanceFacts(stance=Stance(stance))


@pytest.mark.parametrize(
    ("message", "kind", "domains", "lens", "stance"),
    [
        ("plan my insulin doses", "planning", {"health"}, False, "shield"),
        ("help me taper off my antidepressants", "action", {"health"}, False, "shield"),
        (
            "plan how to tell my family I'm depressed",
            "planning",
            {"mental_health"},
            False,
            "shield",
        ),
        # a question is lens work, whatever its domain
        ("what dose of insulin is typical?", "question", {"health"}, True, "lens"),
        # everyday plans that merely touch the domains' words stay sword
        ("I'm sick of my job, plan a career change", "planning", {"health"}, False, "sword"),
        ("plan my week to reduce stress", "planning", {"mental_health"}, False, "sword"),
        ("plan a budget for my meds", "planning", {"finance"}, False, "sword"),
    ],
)
async def test_treatment_and_diagnosis_plans_are_high_stakes(
    message: str, kind: str, domains: set[str], lens: bool, stance: str
) -> None:
    """A medication or mental-health plan passes the shield, but is not low-stakes sword work."""
    prior = _prior(PASS, kind, lens)
    prior["intent"] = GateResult(
        Decision.PASS, facts=IntentFacts(type=kind, domains=frozenset(domains))
    )
    result = await StanceGate().check(gate_input(message, prior=prior))
    assert result.stance is Stance(stance)
    if stance == "shield":
        assert result.reason.startswith("shield: high stakes (")


async def test_a_crisis_outranks_a_high_stakes_domain() -> None:
    prior = _prior(ShieldFacts(verdict=ShieldVerdict.CONTROL, risk=Risk.CRITICAL), "planning")
    prior["intent"] = GateResult(
        Decision.PASS, facts=IntentFacts(type="planning", domains=frozenset({"mental_health"}))
    )
    result = await StanceGate().check(gate_input("x", prior=prior))
    assert result.stance is Stance.CONTROL


def _with_stance(stance: Stance) -> dict[str, GateResult]:
    return {"stance": GateResult(Decision.PASS, facts=StanceFacts(stance), stance=stance)}


@pytest.mark.parametrize(
    ("stance", "allowed"),
    [
        (Stance.CONTROL, {"respond", "provide_resources"}),
        (Stance.SHIELD, {"respond", "warn", "request_ack"}),
        (Stance.LENS, {"respond", "verify", "cite_sources"}),
        (Stance.SWORD, {"respond", "verify", "spark", "act"}),
    ],
)
async def test_capabilities_per_stance(stance: Stance, allowed: set[str]) -> None:
    result = await CapabilityGate().check(gate_input("x", prior=_with_stance(stance)))
    assert result.decision is Decision.PASS
    assert result.facts == CapabilityFacts(allowed=frozenset(allowed))


async def test_denied_actions_are_flagged() -> None:
    inp = gate_input(
        "send the email",
        prior=_with_stance(Stance.LENS),
        requested_actions=("verify", " ACT ", "act", "delete_all"),
    )
    result = await CapabilityGate().check(inp)
    assert result.decision is Decision.FLAG
    assert isinstance(result.facts, CapabilityFacts)
    assert result.facts.denied == ("act", "delete_all")
    assert result.reason == "denied in lens: act, delete_all"


async def test_allowed_request_in_sword_passes() -> None:
    inp = gate_input("x", prior=_with_stance(Stance.SWORD), requested_actions=("act", "spark"))
    result = await CapabilityGate().check(inp)
    assert result.decision is Decision.PASS


async def test_missing_stance_is_treated_as_shield() -> None:
    result = await CapabilityGate().check(gate_input("x", requested_actions=("act",)))
    assert result.decision is Decision.FLAG
    assert "shield" in result.reason
