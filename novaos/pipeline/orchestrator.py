"""Runs the gates in order and turns their decisions into stream events.

Gate order is data (``PipelinePlan``), validated at start. Pre-model gates run
one by one under their own budgets; a stop ends the request with NovaOS's own
answer; then the model phase streams through the output check; post-model
gates (spark) run last and the terminal ``Completed`` closes every run.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from novaos.domain import (
    CANONICAL_ORDER,
    FAILOVER,
    INVARIANTS,
    ChatEvent,
    ChatInput,
    Completed,
    Decision,
    GateEvent,
    GateRecord,
    Outcome,
    RequestContext,
    SparkSuggestion,
    Stance,
    TextDelta,
    gates_run,
)
from novaos.errors import (
    DeadlineExceededError,
    InvalidArgumentError,
    NovaError,
    UpstreamTruncatedError,
)
from novaos.pipeline.facts import SELF_HARM, LensFacts, ModelFacts, ShieldFacts, StanceFacts
from novaos.pipeline.gate import Gate, GateInput, GateResult, InlineGate, OutputConstraints
from novaos.pipeline.gates.model import build_messages
from novaos.pipeline.generation import Failover, GenerationStats, Generator, OutputBlocked
from novaos.pipeline.generation import personality_records as _personality_records
from novaos.pipeline.invariants import RunTrace, check_invariants, model_allowed
from novaos.ports import ChatMessage, ProviderRequest, TokenBudget

DEFAULT_SYSTEM_PROMPT = "You are a careful, honest assistant. Answer plainly and briefly."
_log = logging.getLogger("novaos.pipeline")


class GateObserver:
    """Hook for metrics; the Prometheus layer subclasses it."""

    def gate_decided(self, record: GateRecord, *, timed: bool = True) -> None:
        """``timed`` is off for a gate's later decisions in one run: its time is
        on the first."""
        return None


@dataclass(frozen=True)
class PipelinePlan:
    pre_model: Sequence[Gate]
    post_model: Sequence[Gate] = ()

    def validate(self) -> None:
        names = (
            [g.name for g in self.pre_model] + ["personality"] + [g.name for g in self.post_model]
        )
        order = [n for n in CANONICAL_ORDER if n in names]
        if names != order or len(set(names)) != len(names):
            raise ValueError(f"gate order {names} does not follow {CANONICAL_ORDER}")


@dataclass
class RunRecord:
    """What one run did (read by the chat service for audit and logs)."""

    gates: list[GateRecord] = field(default_factory=list)
    results: dict[str, GateResult] = field(default_factory=dict)
    stance: Stance | None = None  # set by the stance gate (or a gate that stops first)
    generation: GenerationStats = field(default_factory=GenerationStats)
    outcome: Outcome | None = None
    reached_model: bool = False
    gates_deadline: float = float("inf")  # clock() value; set when the run starts
    whole_answer: bool = False  # unary Chat: one upstream response, not a stream
    # A GateEvent per decision, for streams that show them as they happen; a
    # unary call reads ``gates`` once at the end instead (each event costs a
    # pass through every generator above this one).
    gate_events: bool = True
    # What the final invariant check found: the run failed closed. A stream has
    # sent its text already; a unary reply still holds it and must drop it.
    violations: tuple[str, ...] = ()


@dataclass
class Orchestrator:
    plan: PipelinePlan
    generator: Generator
    holdback_chars: int = 160
    default_max_tokens: int = 512
    pipeline_timeout_s: float = 30.0
    observer: GateObserver = field(default_factory=GateObserver)
    clock: Callable[[], float] = time.monotonic
    # The shield's crisis block per language: what a control answer must start with.
    crisis_block: Callable[[str], str] | None = None
    # How long one store call may take before the store gives up on it and answers
    # from memory (REDIS_COMMAND_TIMEOUT_MS): added to the budget of a gate per
    # call it makes, so a Redis slower than a gate's budget but not down delays
    # the request instead of refusing it.
    store_wait_s: float = 0.0

    def __post_init__(self) -> None:
        self.plan.validate()
        self._has_shield = any(g.name == "shield" for g in self.plan.pre_model)
        # gate -> its own budget plus what its store calls may take on top; a gate
        # that times its own work (the shield: CPU time) only by the pipeline's.
        self._budgets_s = {
            gate.name: math.inf
            if getattr(gate, "times_itself", False)
            else gate.budget_ms / 1000 + getattr(gate, "store_calls", 0) * self.store_wait_s
            for gate in (*self.plan.pre_model, *self.plan.post_model)
        }

    async def run(
        self,
        ctx: RequestContext,
        chat: ChatInput,
        history: tuple[ChatMessage, ...],
        rec: RunRecord,
        budget: TokenBudget | None = None,
        *,
        left_out: int = 0,
    ) -> AsyncGenerator[ChatEvent, None]:
        """``budget``: the request's token reservation, grown to the real prompt
        (system prompt, lens sources, regeneration feedback) before each upstream call.
        ``left_out``: how many of the oldest ``history`` messages the model is not
        sent (over the caller's per-request token bound); the gates read them all.

        The gate loop is written out here rather than in a nested generator:
        every event passes through each generator it is yielded from."""
        try:
            rec.gates_deadline = self.clock() + self.pipeline_timeout_s
            for gate in self.plan.pre_model:
                inp = GateInput(ctx, chat, history, dict(rec.results), left_out)
                result = await self._check(gate, inp, rec)
                if rec.gate_events:
                    yield GateEvent(rec.gates[-1])
                if result.error is not None:
                    raise result.error
                if result.decision in (Decision.STOP, Decision.AWAIT_ACK):
                    async for event in self._stopped(ctx, chat, result, rec):
                        yield event
                    return
            async for event in self._generate(ctx, chat, history, rec, budget, left_out):
                yield event
        except NovaError as exc:
            # Started and gate events already went out (an invalid ack token, every
            # circuit open, ...): SSE clients never see the status in the trailers,
            # so the terminal event carries the failure in-band before the error
            # ends the call. A run that already sent its terminal event has an outcome.
            if rec.outcome is None:
                # The client's own deadline ran out (the provider call is bounded
                # by it, and may notice before gRPC cancels the call): the client
                # gave up, as with a cancel, so the record says CANCELLED.
                deadline = isinstance(exc, DeadlineExceededError)
                rec.outcome = Outcome.CANCELLED if deadline else Outcome.FAILED
                yield self._completed(ctx, chat, rec, detail=exc.message)
            raise

    def _budget_s(self, gate: Gate, rec: RunRecord, now: float) -> float:
        """A gate's budget, never more than what is left of the pipeline's
        (PIPELINE_TIMEOUT_MS); running out fails that gate closed."""
        return min(self._budgets_s[gate.name], max(rec.gates_deadline - now, 0.0))

    async def _check(self, gate: Gate, inp: GateInput, rec: RunRecord) -> GateResult:
        started = self.clock()
        try:
            if isinstance(gate, InlineGate):  # no I/O: a timer could not fire before it returns
                # A long one runs in a thread so other streams keep their turns;
                # untimed still, so it decides as it would inline.
                heavy = gate.heavy(inp)
                result = await asyncio.to_thread(gate.decide, inp) if heavy else gate.decide(inp)
            else:
                async with asyncio.timeout(self._budget_s(gate, rec, started)):
                    result = await gate.check(inp)
        except (asyncio.CancelledError, InvalidArgumentError):
            raise  # cancellation, and a client error such as an invalid ack token, end the call
        except Exception as exc:  # a failing gate never silently passes
            result = _fail_closed(gate.name, exc)
            # A refusal (the shield) or a degraded answer nobody chose: operators
            # must see a burst of these, not only an outcome in the request line.
            _log.warning(
                "Gate failed: %s",
                result.reason,
                extra={"requestId": inp.ctx.request_id, "gate": gate.name},
            )
        latency_ms = (self.clock() - started) * 1000
        record = GateRecord(gate.name, result.decision, result.reason, latency_ms)
        rec.gates.append(record)
        rec.results[gate.name] = result
        if result.stance is not None:
            rec.stance = result.stance
        if isinstance(result.facts, StanceFacts):
            rec.stance = result.facts.stance
        self.observer.gate_decided(record)
        return result

    async def _stopped(
        self, ctx: RequestContext, chat: ChatInput, result: GateResult, rec: RunRecord
    ) -> AsyncIterator[ChatEvent]:
        rec.outcome = result.outcome or Outcome.HARD_VETO
        if result.ack is not None:
            yield result.ack
        # NovaOS's own answer (crisis block, refusal) is released text; the sentence
        # a soft veto asks the user to acknowledge is not: it goes in AckRequired
        # only, or the user's first-person consent reads as the assistant's words
        # (a delta, Chat's text, released_chars, the audit's released content).
        if result.response_text and result.decision is not Decision.AWAIT_ACK:
            rec.generation.released.append(result.response_text)
            yield TextDelta(result.response_text)
        yield self._completed(ctx, chat, rec, detail=result.reason)

    async def _generate(
        self,
        ctx: RequestContext,
        chat: ChatInput,
        history: tuple[ChatMessage, ...],
        rec: RunRecord,
        budget: TokenBudget | None,
        left_out: int,
    ) -> AsyncIterator[ChatEvent]:
        if self._model_refused(rec):
            yield self._completed(ctx, chat, rec, detail="request refused by policy check")
            return
        request, constraints = self._provider_request(ctx, chat, history[left_out:], rec)
        stats = rec.generation
        rec.reached_model = True
        started = self.clock()
        try:
            async for delta in self.generator.run(
                request,
                constraints,
                stats,
                whole=rec.whole_answer,
                budget=budget,
                on_failover=lambda failover: self._failed_over(rec, failover),
            ):
                yield delta
        except UpstreamTruncatedError as cut:
            # Text already went out: never a clean-looking end. The terminal event
            # says so in-band, then the error ends the call with a non-OK status.
            rec.outcome = Outcome.UPSTREAM_TRUNCATED
            yield self._completed(ctx, chat, rec, detail=cut.message)
            raise
        except OutputBlocked as blocked:
            # A regeneration or edit before the stop is reported too: the
            # audit's personality:regenerate filter finds the request either way.
            for decided in self._personality_decided(rec, started, blocked.reason):
                yield decided
            if blocked.harm == SELF_HARM:
                # An answer turning to self-harm is stopped, and the reader gets
                # what the shield gives a crisis: the resources, after what was sent.
                for note in self._crisis_note(rec):
                    yield note
            rec.outcome = Outcome.OUTPUT_BLOCKED
            yield self._completed(ctx, chat, rec, detail="output blocked by policy")
            return
        for decided in self._personality_decided(rec, started):
            yield decided
        for note in _required_notes(rec):
            yield note
        async for event in self._post_model(ctx, chat, history, rec, left_out):
            yield event

    def _crisis_note(self, rec: RunRecord) -> list[TextDelta]:
        """The crisis resources, in the shield's language, after an answer
        stopped for self-harm (counted as released)."""
        shield = _shield_facts(rec)
        language = shield.language if shield is not None else "en"
        note = self.crisis_block(language) if self.crisis_block else ""
        if not note:
            return []
        text = f"\n\n{note}" if rec.generation.released_text else note
        rec.generation.released.append(text)
        return [TextDelta(text)]

    def _personality_decided(
        self, rec: RunRecord, started: float, blocked: str = ""
    ) -> list[GateEvent]:
        stats = rec.generation
        latency = _ms(self.clock() - started - stats.provider_wait_s)
        events = []
        for i, record in enumerate(_personality_records(stats, latency, blocked)):
            rec.gates.append(record)
            self.observer.gate_decided(record, timed=i == 0)
            if rec.gate_events:
                events.append(GateEvent(record))
        return events

    def _failed_over(self, rec: RunRecord, failover: Failover) -> None:
        """Recorded among the gates (audit, ``gate_decisions_total``, the terminal
        event's ``gates_executed``): the provider that answered is not the first
        one called. Nothing the client got named that one."""
        reason = f"{failover.provider}: {failover.cause} before any text was released; retried"
        record = GateRecord(FAILOVER, Decision.FLAG, reason, _ms(failover.seconds))
        rec.gates.append(record)
        self.observer.gate_decided(record)

    async def _post_model(
        self,
        ctx: RequestContext,
        chat: ChatInput,
        history: tuple[ChatMessage, ...],
        rec: RunRecord,
        left_out: int,
    ) -> AsyncIterator[ChatEvent]:
        for gate in self.plan.post_model:
            inp = GateInput(ctx, chat, history, dict(rec.results), left_out)
            await self._check(gate, inp, rec)
            if rec.gate_events:
                yield GateEvent(rec.gates[-1])
        rec.outcome = Outcome.COMPLETED
        # A whole answer as far as max_tokens allowed: said in-band, not passed
        # off as finished (raise options.max_tokens for more).
        cut = "cut at max_tokens" if rec.generation.cut_at_max_tokens else ""
        yield self._completed(ctx, chat, rec, detail=cut)

    def _provider_request(
        self, ctx: RequestContext, chat: ChatInput, history: tuple[ChatMessage, ...], rec: RunRecord
    ) -> tuple[ProviderRequest, OutputConstraints]:
        model_facts = rec.results.get("model")
        facts = model_facts.facts if model_facts else None
        if not isinstance(facts, ModelFacts):
            facts = ModelFacts(system_prompt=DEFAULT_SYSTEM_PROMPT)
        messages = build_messages(facts, history, chat.message)
        lens = rec.results.get("lens")
        degraded = isinstance(lens.facts, LensFacts) and lens.facts.degraded if lens else False
        request = ProviderRequest(
            messages=messages,
            model=chat.options.model,
            max_tokens=chat.options.max_tokens or self.default_max_tokens,
            temperature=chat.options.temperature,
            deadline_monotonic=ctx.deadline_monotonic,
            preferred_provider=chat.options.provider,
        )
        # Only a plan without a stance gate (a test's) reaches the model without one.
        stance = rec.stance or Stance.LENS
        constraints = OutputConstraints(
            stance=stance,
            no_precise_figures=degraded,
            holdback_chars=self.holdback_chars,
            figure_placeholder=facts.figure_placeholder,
        )
        return request, constraints

    def cancelled(
        self, ctx: RequestContext, chat: ChatInput, rec: RunRecord, detail: str
    ) -> Completed:
        """The terminal event of a run stopped from outside before its own (shutdown)."""
        rec.outcome = Outcome.CANCELLED
        return self._completed(ctx, chat, rec, detail=detail)

    def _completed(
        self, ctx: RequestContext, chat: ChatInput, rec: RunRecord, detail: str = ""
    ) -> Completed:
        stats = rec.generation
        spark = rec.results.get("spark")
        suggestion = spark.facts if spark and isinstance(spark.facts, SparkSuggestion) else None
        violations = self._violations(rec, suggestion)
        if violations:  # fail closed: the terminal event says so, never a clean success
            _log.error("pipeline invariants violated: %s", "; ".join(violations))
            record = GateRecord(INVARIANTS, Decision.STOP, "; ".join(violations))
            rec.gates.append(record)
            self.observer.gate_decided(record)
            rec.outcome, rec.violations, suggestion = Outcome.FAILED, violations, None
            detail = "request failed a final policy check"
        return Completed(
            outcome=rec.outcome or Outcome.COMPLETED,
            stance=rec.stance,
            usage=stats.usage,
            gates_executed=gates_run(g.gate for g in rec.gates),
            request_id=ctx.request_id,
            provider=stats.provider,
            model=stats.model,
            spark=suggestion,
            detail=detail,
            conversation_id=chat.conversation_id,
            released_chars=len(stats.released_text),
        )

    def _model_refused(self, rec: RunRecord) -> bool:
        """Defence in depth: a wiring bug must never let a vetoed request reach the model."""
        refusal = model_allowed(_shield_facts(rec)) if self._has_shield else ""
        if refusal:
            _log.error("invariant violated before the model call: %s", refusal)
            rec.outcome = Outcome.FAILED
        return bool(refusal)

    def _violations(self, rec: RunRecord, spark: SparkSuggestion | None) -> tuple[str, ...]:
        shield = _shield_facts(rec)
        language = shield.language if shield is not None else "en"
        trace = RunTrace(
            outcome=rec.outcome or Outcome.COMPLETED,
            stance=rec.stance,
            shield=shield,
            model_called=rec.reached_model,
            released_text=rec.generation.released_text,
            crisis_block=self.crisis_block(language) if self.crisis_block else "",
            spark=spark,
            require_shield=self._has_shield,
        )
        return check_invariants(trace)


def _shield_facts(rec: RunRecord) -> ShieldFacts | None:
    result = rec.results.get("shield")
    return result.facts if result and isinstance(result.facts, ShieldFacts) else None


def _required_notes(rec: RunRecord) -> list[TextDelta]:
    """Notes NovaOS renders after the answer (not left to the model), counted as released."""
    result = rec.results.get("model")
    notes = result.facts.required_notes if result and isinstance(result.facts, ModelFacts) else ()
    deltas = []
    for note in notes:
        text = f"\n\n{note}" if rec.generation.released_text else note
        rec.generation.released.append(text)
        deltas.append(TextDelta(text))
    return deltas


def _ms(seconds: float) -> float:
    return max(seconds, 0.0) * 1000


def _fail_closed(gate: str, exc: BaseException) -> GateResult:
    reason = "timed out" if isinstance(exc, TimeoutError) else f"error: {type(exc).__name__}"
    if gate == "shield":  # the safety core never fails open
        return GateResult(
            Decision.STOP,
            f"shield {reason}; request refused",
            outcome=Outcome.FAILED,
            stance=Stance.SHIELD,
            response_text="This request could not be safety-checked, so it was not processed.",
        )
    if gate == "lens":  # it was fetching sources: the answer must still say it is unverified
        facts = LensFacts(needs_verification=True, degraded=True, reasons=(f"lens {reason}",))
        return GateResult(Decision.DEGRADE, f"lens {reason}; degraded", facts=facts)
    return GateResult(Decision.DEGRADE, f"{gate} {reason}; degraded")
