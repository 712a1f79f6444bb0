"""Stance gate: control > shield > lens > sword, from the earlier gates' facts.

Stance shapes the system prompt, the allowed capabilities and spark. When the
shield's facts are missing (it failed or did not run) we pick ``shield``: the
careful posture, never the permissive one.

Stakes come from the shield's risk and from what a plan is about: a plan to
taper off a medication or to tell one's family about a depression passes the
shield (it is allowed), but a cheerful "sword" answer with a spark is not the
posture for it. A plan or action intent tags health or mental health is high
stakes when it names a treatment or a diagnosis; "I'm sick of my job, plan a
career change" or "plan my week to reduce stress" stays sword.
"""

from __future__ import annotations

import re

from novaos.domain import Decision, Stance
from novaos.pipeline.facts import (
    IntentFacts,
    LensFacts,
    Risk,
    ShieldFacts,
    ShieldVerdict,
    StanceFacts,
)
from novaos.pipeline.gate import GateInput, GateResult, InlineGate

_SWORD_TYPES = frozenset({"action", "planning"})
_CALM_RISKS = frozenset({Risk.NONE, Risk.LOW})
HIGH_STAKES_DOMAINS = ("health", "mental_health")
# What makes a health plan high stakes: a treatment or a diagnosis, in the five
# languages (the view is not folded: accents are matched as written or not).
_TREATMENT = re.compile(
    r"\b(?:medica\w*|m[eé]dicaments?|medikament\w*|medicine|meds|rem[eé]dios?|pills?|tablets?|"
    r"dos(?:e|es|age|ages|ing)|prescri\w+|insulin\w*|antid[eé]press?\w+|antibiotic\w*|"
    r"sertraline|zoloft|prozac|lexapro|fluoxetine|ssris?|chemo\w*|radiation|radiotherapy|"
    r"dialysis|surgery|treatment|therap\w+|taper\w*|withdraw\w*|diagnos\w+|"
    r"depression|depressed|depressive|bipolar|schizo\w+|psychiatr\w+|eating disorders?|"
    r"anorexi\w+|bulimi\w+|suicid\w*|self-harm|overdose|tabletten|pastillas|comprimidos|"
    r"comprim[ée]s|insulina|insuline|tratamiento|traitement|behandlung|tratamento|"
    r"depresi[oó]n|d[ée]pression|depress[aã]o)\b",
    re.IGNORECASE,
)


# A pet's treatment is the owner's errand ("plan my week around my dog's surgery",
# "les médicaments du chat"): a pet named as someone's, never a bare word ("chat with
# my doctor", "I'm a vet tech").
_PET = re.compile(
    r"\b(?:(?:my|our|the|his|her|their) (?:dog|cat|pet|puppy|kitten)(?:'s|s'|s)?|"
    r"(?:du|de mon|de ma|de notre) (?:chien|chat|chiot|chatte)|"
    r"(?:del|de mi|de nuestro) (?:perro|gato|gata|mascota)|"
    r"(?:des|meines|unseres|meiner|unserer|der) (?:hundes|katze|hunds)|"
    r"(?:do|da|do meu|da minha) (?:cachorro|gato|gata|cadela))\b",
    re.IGNORECASE,
)


def high_stakes_domain(intent: IntentFacts | None, message: str) -> str:
    """The health or mental-health domain of a plan or action about a treatment
    or a diagnosis (empty: none). A question is not sword work anyway."""
    if intent is None or intent.type not in _SWORD_TYPES or not _TREATMENT.search(message):
        return ""
    if _PET.search(message):
        return ""
    return next((d for d in HIGH_STAKES_DOMAINS if d in intent.domains), "")


def _shield_stance(shield: ShieldFacts) -> tuple[Stance, str] | None:
    if shield.verdict is ShieldVerdict.CONTROL or shield.risk is Risk.CRITICAL:
        return Stance.CONTROL, f"crisis ({shield.category or shield.risk})"
    if shield.verdict in (ShieldVerdict.HARD_VETO, ShieldVerdict.SOFT_VETO):
        return Stance.SHIELD, f"{shield.verdict} ({shield.category or '-'})"
    if shield.risk is Risk.HIGH:
        return Stance.SHIELD, "high stakes"
    return None


def choose_stance(
    shield: ShieldFacts | None,
    intent: IntentFacts | None,
    lens: LensFacts | None,
    message: str = "",
) -> tuple[Stance, str]:
    """The stance and a short why, in the GATES.md priority order."""
    if shield is None:
        return Stance.SHIELD, "shield facts missing"
    intervention = _shield_stance(shield)
    if intervention is not None:
        return intervention
    domain = high_stakes_domain(intent, message)
    if domain:
        return Stance.SHIELD, f"high stakes ({domain})"
    if lens is not None and lens.needs_verification:
        return Stance.LENS, "verification needed"
    kind = intent.type if intent is not None else "unknown"
    if kind in _SWORD_TYPES and shield.risk in _CALM_RISKS:
        return Stance.SWORD, f"{kind} with no intervention"
    return Stance.LENS, f"{kind}: open question" if kind == "question" else f"{kind}: default"


class StanceGate(InlineGate):
    name = "stance"

    def __init__(self, budget_ms: int = 10) -> None:
        self.budget_ms = budget_ms

    def decide(self, inp: GateInput) -> GateResult:
        shield, intent, lens = inp.facts("shield"), inp.facts("intent"), inp.facts("lens")
        stance, why = choose_stance(
            shield if isinstance(shield, ShieldFacts) else None,
            intent if isinstance(intent, IntentFacts) else None,
            lens if isinstance(lens, LensFacts) else None,
            inp.chat.message,
        )
        return GateResult(
            decision=Decision.PASS,
            reason=f"{stance}: {why}",
            facts=StanceFacts(stance=stance),
            stance=stance,
        )
