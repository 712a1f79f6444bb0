"""Capability gate: what the answer may do in this stance.

Only actions the client asks for in the explicit ``requested_actions`` field are
considered; actions inferred from free text are never executed. Denied ones are
reported (decision ``flag``) so the client sees why they did not happen.
"""

from __future__ import annotations

from collections.abc import Mapping

from novaos.domain import Decision, Stance
from novaos.pipeline.facts import CapabilityFacts, StanceFacts
from novaos.pipeline.gate import GateInput, GateResult, InlineGate

ALLOWED: Mapping[Stance, frozenset[str]] = {
    Stance.CONTROL: frozenset({"respond", "provide_resources"}),
    Stance.SHIELD: frozenset({"respond", "warn", "request_ack"}),
    Stance.LENS: frozenset({"respond", "verify", "cite_sources"}),
    Stance.SWORD: frozenset({"respond", "verify", "spark", "act"}),
}
_MAX_SHOWN_ACTION = 40


def _stance_of(inp: GateInput) -> Stance:
    facts = inp.facts("stance")
    # No stance means something upstream failed: fall back to the careful posture.
    return facts.stance if isinstance(facts, StanceFacts) else Stance.SHIELD


class CapabilityGate(InlineGate):
    name = "capability"

    def __init__(self, budget_ms: int = 10) -> None:
        self.budget_ms = budget_ms

    def decide(self, inp: GateInput) -> GateResult:
        stance = _stance_of(inp)
        allowed = ALLOWED[stance]
        requested = [a.strip().lower()[:_MAX_SHOWN_ACTION] for a in inp.chat.requested_actions]
        denied = tuple(dict.fromkeys(a for a in requested if a and a not in allowed))
        facts = CapabilityFacts(allowed=allowed, denied=denied)
        if denied:
            reason = f"denied in {stance}: {', '.join(denied)}"
            return GateResult(decision=Decision.FLAG, reason=reason, facts=facts)
        return GateResult(
            decision=Decision.PASS, reason=f"{stance}: {', '.join(sorted(allowed))}", facts=facts
        )
