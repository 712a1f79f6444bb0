"""The last check before the terminal event: properties no request may break.

The orchestrator records what actually happened (``RunTrace``) and fails closed
on any violation. These are deliberately redundant with the gates: they catch a
bug in a gate or in the orchestrator's wiring, not a user.
"""

from __future__ import annotations

from dataclasses import dataclass

from novaos.domain import Outcome, SparkSuggestion, Stance
from novaos.pipeline.facts import ShieldFacts, ShieldVerdict
from novaos.pipeline.gates.rules import find_banned


@dataclass(frozen=True, slots=True)
class RunTrace:
    """What one request did, as the orchestrator saw it."""

    outcome: Outcome
    stance: Stance | None
    shield: ShieldFacts | None
    model_called: bool
    released_text: str
    crisis_block: str = ""  # the block a control response must start with
    spark: SparkSuggestion | None = None
    terminal_events: int = 1  # including the one about to be sent
    require_shield: bool = True  # False only for a plan with no shield (spine tests)


def model_allowed(shield: ShieldFacts | None) -> str:
    """Empty when the shield's verdict lets the model answer; otherwise why not."""
    if shield is None:
        return "no shield verdict"
    if shield.verdict is ShieldVerdict.PASS:
        return ""
    if shield.verdict is ShieldVerdict.SOFT_VETO and shield.ack_accepted:
        return ""
    return f"shield verdict {shield.verdict}"


def check_invariants(trace: RunTrace) -> tuple[str, ...]:
    """Every broken invariant, as a short stable description (empty: all hold)."""
    shield = trace.shield
    verdict = shield.verdict if shield is not None else None
    violations: list[str] = []
    if trace.model_called and shield is None and trace.require_shield:
        violations.append("model called without a shield verdict")
    if verdict is ShieldVerdict.HARD_VETO and trace.model_called:
        violations.append("hard veto reached the model")
    if verdict is ShieldVerdict.CONTROL and trace.model_called:
        violations.append("crisis reached the model")
    if (verdict is ShieldVerdict.CONTROL) != (trace.outcome is Outcome.CONTROL):
        violations.append("crisis verdict and control outcome disagree")
    if trace.outcome is Outcome.CONTROL and (
        not trace.crisis_block or not trace.released_text.startswith(trace.crisis_block)
    ):
        violations.append("control response does not start with the crisis block")
    soft_unacked = verdict is ShieldVerdict.SOFT_VETO and not (shield and shield.ack_accepted)
    if soft_unacked and trace.model_called:
        violations.append("soft veto without a valid ack reached the model")
    if find_banned(trace.released_text) is not None:
        violations.append("banned phrase in released text")
    if trace.spark is not None and trace.stance is not Stance.SWORD:
        violations.append("spark outside sword stance")
    if trace.terminal_events != 1:
        violations.append(f"{trace.terminal_events} terminal events")
    return tuple(violations)
