"""The acknowledgement flow around the shield's soft veto.

``AckShieldGate`` wraps the shield gate (same name, same budget) so the
orchestrator needs no special case: a soft veto without a token becomes
``await_ack`` with a freshly issued token; a request carrying a token has it
redeemed (signature, expiry, user, conversation and message first, then the
nonce burned) and, if the shield still says soft veto, the veto is overridden
and the facts say so for the prompt and the audit. A bad token is the
shield's ``stop`` (``ack token refused: <why>``), streamed, counted and audited
like any decision, carrying the ``AckInvalidError`` that then ends the call with
INVALID_ARGUMENT / ACK_INVALID: replays and forgeries show up where operators look.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from novaos.domain import AckRequired, Decision, Outcome, Stance
from novaos.errors import AckInvalidError
from novaos.pipeline.ack import AckTokens
from novaos.pipeline.facts import ShieldFacts, ShieldVerdict
from novaos.pipeline.gate import Gate, GateInput, GateResult

_STOPS = frozenset({ShieldVerdict.CONTROL, ShieldVerdict.HARD_VETO})


class AckShieldGate:
    def __init__(
        self,
        shield: Gate,
        tokens: AckTokens,
        prompt_for: Callable[[str, str], str] | None = None,
    ) -> None:
        self._shield = shield
        self._tokens = tokens
        self._prompt_for = prompt_for  # (category, language) -> the sentence, localised
        self.name = shield.name
        self.budget_ms = shield.budget_ms
        self.store_calls = getattr(shield, "store_calls", 0) + 1  # a token's nonce burned
        self.times_itself = getattr(shield, "times_itself", False)

    async def check(self, inp: GateInput) -> GateResult:
        result = await self._shield.check(inp)
        facts = result.facts if isinstance(result.facts, ShieldFacts) else None
        if facts is None or facts.verdict in _STOPS or result.decision is Decision.STOP:
            return result  # a crisis, veto or throttle wins over any token, which stays unburned
        user, chat = inp.ctx.principal.user_id, inp.chat
        if chat.ack_token:
            # Checked even when the verdict changed: a token is never silently ignored.
            try:
                acked = await self._tokens.redeem(
                    chat.ack_token, user, chat.conversation_id, chat.message
                )
            except AckInvalidError as exc:
                return _refused(facts, exc)
            if facts.verdict is ShieldVerdict.SOFT_VETO:
                return _accepted(result, facts, acked)
            return result
        if facts.verdict is not ShieldVerdict.SOFT_VETO:
            return result
        reason = facts.category or "high_stakes"
        token, prompt, expires_at = self._tokens.issue(
            user, chat.conversation_id, chat.message, reason
        )
        if self._prompt_for is not None:
            prompt = self._prompt_for(reason, facts.language) or prompt
        return replace(
            result,
            decision=Decision.AWAIT_ACK,
            reason=result.reason or f"soft veto ({reason}): acknowledgement required",
            outcome=Outcome.ACK_REQUIRED,
            stance=Stance.SHIELD,
            ack=AckRequired(token=token, prompt=prompt, expires_at_unix=expires_at, reason=reason),
        )


def _accepted(result: GateResult, facts: ShieldFacts, acked: str) -> GateResult:
    return GateResult(
        decision=Decision.FLAG,
        reason=f"soft veto ({facts.category or acked}) acknowledged by the user",
        facts=replace(facts, ack_accepted=True),
        stance=Stance.SHIELD,
    )


def _refused(facts: ShieldFacts, exc: AckInvalidError) -> GateResult:
    # No stance: the request ends before the stance gate decides one.
    return GateResult(
        decision=Decision.STOP,
        reason=f"ack token refused: {exc.description}",
        facts=facts,
        outcome=Outcome.FAILED,
        error=exc,
    )
