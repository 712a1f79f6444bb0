"""Spark gate: one small next step, only when it is clearly welcome.

Only in sword stance, with no shield intervention and low stakes (the shield's
risk, and no plan about a treatment or diagnosis: see the stance gate). Limits are per
user and live in the store (shared by every worker and pod): at most
``daily_max`` a day and ``min_gap_s`` apart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from novaos.domain import Decision, SparkSuggestion, Stance
from novaos.pipeline.facts import IntentFacts, Risk, ShieldFacts, ShieldVerdict, StanceFacts
from novaos.pipeline.gate import GateInput, GateResult
from novaos.pipeline.gates.stance import high_stakes_domain
from novaos.ports import GetOp, KeyValueStore

_TEMPLATES: tuple[tuple[str, re.Pattern[str], SparkSuggestion], ...] = (
    (
        "email",
        re.compile(r"\b(?:e-?mail\w*|inbox|reply to)\b", re.I),
        SparkSuggestion("Write the subject line and first sentence of that email now.", 5),
    ),
    (
        "exercise",
        re.compile(r"\b(?:exercis\w*|workout|run(?:ning)?|gym|fitness|walk(?:ing)?)\b", re.I),
        SparkSuggestion("Put on your shoes and take a 10-minute walk right now.", 10),
    ),
    (
        "writing",
        re.compile(r"\b(?:writ\w+|essay|novel|blog|article|draft)\b", re.I),
        SparkSuggestion("Open a blank page and write three rough sentences.", 5),
    ),
    (
        "study",
        re.compile(r"\b(?:stud\w+|exam|learn\w*|revis\w+|homework|course)\b", re.I),
        SparkSuggestion("Set a 15-minute timer and review one section of your notes.", 15),
    ),
    (
        "planning",
        re.compile(r"\b(?:plan\w*|schedul\w*|organi[sz]\w*|roadmap|goals?)\b", re.I),
        SparkSuggestion("Write down the next three steps and circle the first one.", 5),
    ),
)
_DEFAULT = SparkSuggestion("Pick the smallest part of this and spend 5 minutes on it now.", 5)
_CALM = frozenset({Risk.NONE, Risk.LOW})
_DAY_S = 86400


def pick_template(message: str) -> tuple[str, SparkSuggestion]:
    for name, pattern, suggestion in _TEMPLATES:
        if pattern.search(message):
            return name, suggestion
    return "default", _DEFAULT


def eligible(inp: GateInput) -> str:
    """Empty when a spark fits; otherwise why not."""
    stance = inp.facts("stance")
    if not isinstance(stance, StanceFacts) or stance.stance is not Stance.SWORD:
        return "not in sword stance"
    shield = inp.facts("shield")
    if not isinstance(shield, ShieldFacts) or shield.verdict is not ShieldVerdict.PASS:
        return "shield intervened"
    if shield.risk not in _CALM:
        return f"stakes {shield.risk}"
    intent = inp.facts("intent")
    domain = high_stakes_domain(
        intent if isinstance(intent, IntentFacts) else None, inp.chat.message
    )
    if domain:
        return f"high stakes ({domain})"
    return ""


class SparkGate:
    name = "spark"

    def __init__(
        self,
        store: KeyValueStore,
        *,
        daily_max: int = 5,
        min_gap_s: int = 1800,
        clock: Callable[[], float] = time.time,
        budget_ms: int = 200,
    ) -> None:
        self._store = store
        self._daily_max = daily_max
        self._min_gap_s = min_gap_s
        self._clock = clock
        self.budget_ms = budget_ms
        self.store_calls = 3  # both refusals read, the gap set, the day counted

    async def check(self, inp: GateInput) -> GateResult:
        why_not = eligible(inp)
        if why_not:
            return GateResult(decision=Decision.PASS, reason=f"no spark: {why_not}")
        refused = await self._take_slot(inp.ctx.principal.user_id)
        if refused:
            return GateResult(decision=Decision.PASS, reason=f"no spark: {refused}")
        name, suggestion = pick_template(inp.chat.message)
        return GateResult(decision=Decision.PASS, reason=f"spark: {name}", facts=suggestion)

    async def _take_slot(self, user_id: str) -> str:
        """Claim today's slot atomically; empty on success, otherwise why not."""
        day = int(self._clock() // _DAY_S)
        count_key, gap_key = f"spark:count:{user_id}:{day}", f"spark:gap:{user_id}"
        # Both refusals read in one batch: the usual answer costs one round trip.
        count, gap = await self._store.batch((GetOp(count_key), GetOp(gap_key)))
        if isinstance(count, bytes) and int(count) >= self._daily_max:
            return "daily limit reached"
        if gap is not None:
            return "too soon since the last spark"
        # SET NX with the gap as TTL: only one spark per window, even across workers.
        if not await self._store.set(gap_key, b"1", ttl_ms=self._min_gap_s * 1000, nx=True):
            return "too soon since the last spark"
        if await self._store.incr(count_key, ttl_ms=2 * _DAY_S * 1000) > self._daily_max:
            return "daily limit reached"
        return ""
