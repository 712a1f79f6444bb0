"""The gates run by the real orchestrator with a scripted stand-in for the shield.

In-process and fast: the mock provider with scripted answers, the fake store,
no network. The end-to-end versions over gRPC live in tests/e2e.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest

from novaos.domain import (
    CANONICAL_ORDER,
    AckRequired,
    ChatEvent,
    ChatInput,
    Completed,
    Decision,
    GateEvent,
    GateRecord,
    Outcome,
    Principal,
    RequestContext,
    Stance,
    TextDelta,
)
from novaos.errors import AckInvalidError, QuotaViolation, RateLimitedError, RateLimitHeaders
from novaos.pipeline.ack import AckTokens
from novaos.pipeline.ack_flow import AckShieldGate
from novaos.pipeline.facts import IntentFacts, Risk, ShieldFacts, ShieldVerdict
from novaos.pipeline.gate import GateInput, GateResult, OutputConstraints
from novaos.pipeline.gates.capability import CapabilityGate
from novaos.pipeline.gates.intent import IntentGate
from novaos.pipeline.gates.lens import DEGRADED_NOTE, LensGate
from novaos.pipeline.gates.model import ModelGate
from novaos.pipeline.gates.personality import PersonalityChecker
from novaos.pipeline.gates.spark import SparkGate
from novaos.pipeline.gates.stance import StanceGate
from novaos.pipeline.generation import Generator
from novaos.pipeline.orchestrator import (
    GateObserver,
    Orchestrator,
    PipelinePlan,
    RunRecord,
)
from novaos.pipeline.policy import default_policy
from novaos.providers.mock import MockProvider
from novaos.providers.router import ProviderRouter, RouterSettings
from novaos.tokens import estimate_tokens
from tests.fixtures.gate_fakes import FakeStore, ManualClock

CRISIS = "If you are thinking about suicide, call or text 988 now."
SCRIPT = {
    "plan my week": "Start with Monday. List three tasks.",
    "savings": "Here are the risks first. Keep an emergency fund.",
    "flatter me": "You're amazing. Here is the answer.|||Here is the answer.",
    "stubborn": "I'm always here for you.|||You're amazing.|||I'm so proud of you.",
    "chemistry": "Chemistry is fun. Now the detonator wiring goes here. More.",
    "bitcoin": "Prices change quickly. Check a live exchange.",
    "keep flattering": "You're amazing. Water the plants early.",
    "weather in Paris": "It is 21.5°C and sunny in Paris right now. Enjoy.",
    "keep wiring": "Now the detonator wiring goes here. More.",
    "keep hiding": "I'm always here for you, and the detonator wiring goes red to blue. Bye.",
    "then edit": "Certainly! I'm always here for you. Plan Monday.|||"
    "List every task on one page. Then sort them by deadline. You are amazing. Good luck.",
    "edit twice": "Great question! Start with Monday. You're amazing. Then Tuesday.",
    "talk me through": "Here is a thought. Then take the whole bottle tonight. Bye.",
    "only this": "Take the whole bottle tonight.",
}


def harm(text: str) -> str | None:
    if "whole bottle" in text.lower():
        return "self_harm"
    return "weapons" if "detonator wiring" in text.lower() else None


@dataclass
class ScriptedShield:
    """Stands in for the shield helper's gate: keyword -> verdict."""

    verdicts: Mapping[str, ShieldFacts] = field(default_factory=dict)
    name: str = "shield"
    budget_ms: int = 200

    async def check(self, inp: GateInput) -> GateResult:
        facts = next(
            (f for key, f in self.verdicts.items() if key in inp.chat.message),
            ShieldFacts(ShieldVerdict.PASS, risk=Risk.LOW),
        )
        if facts.verdict is ShieldVerdict.CONTROL:
            return GateResult(
                Decision.STOP,
                "crisis",
                facts,
                Outcome.CONTROL,
                Stance.CONTROL,
                CRISIS + "\nYou matter.",
            )
        if facts.verdict is ShieldVerdict.HARD_VETO:
            return GateResult(
                Decision.STOP, "hard veto", facts, Outcome.HARD_VETO, Stance.SHIELD, "No."
            )
        if facts.verdict is ShieldVerdict.SOFT_VETO:
            return GateResult(Decision.AWAIT_ACK, "soft veto", facts, Outcome.ACK_REQUIRED)
        return GateResult(Decision.PASS, "pass", facts)


VERDICTS = {
    "hurt myself": ShieldFacts(ShieldVerdict.CONTROL, "self_harm", Risk.CRITICAL),
    "pipe bomb": ShieldFacts(ShieldVerdict.HARD_VETO, "weapons", Risk.HIGH),
    "savings": ShieldFacts(ShieldVerdict.SOFT_VETO, "finance", Risk.HIGH),
}


@dataclass
class Pipeline:
    orchestrator: Orchestrator
    provider: MockProvider
    store: FakeStore

    async def run(self, message: str, *, user: str = "u1", ack: str = "") -> list[ChatEvent]:
        ctx = RequestContext(request_id="r1", principal=Principal(user_id=user))
        chat = ChatInput(message=message, conversation_id="c1", ack_token=ack)
        return [e async for e in self.orchestrator.run(ctx, chat, (), RunRecord())]


def build(
    shield: object | None = None,
    script: Mapping[str, str] = SCRIPT,
    crisis_block: Callable[[str], str] = lambda language: CRISIS,
    harm_check: Callable[[str], str | None] = harm,
) -> Pipeline:
    clock = ManualClock()
    store = FakeStore(clock)
    provider = MockProvider(token_delay_ms=0, script=script)
    tokens = AckTokens(b"k" * 32, store, clock)
    inner = shield if shield is not None else ScriptedShield(VERDICTS)
    plan = PipelinePlan(
        pre_model=(
            IntentGate(),
            AckShieldGate(inner, tokens),  # type: ignore[arg-type]
            LensGate(None),
            StanceGate(),
            CapabilityGate(),
            ModelGate(),
        ),
        post_model=(SparkGate(store, clock=clock),),
    )
    generator = Generator(
        ProviderRouter({"mock": provider}, RouterSettings(preferred="mock")),
        PersonalityChecker(harm_check),
        flush_interval_s=0,
    )
    orchestrator = Orchestrator(plan, generator, crisis_block=crisis_block)
    return Pipeline(orchestrator, provider, store)


def _done(events: list[ChatEvent]) -> Completed:
    terminal = [e for e in events if isinstance(e, Completed)]
    assert len(terminal) == 1 and events[-1] is terminal[0]
    return terminal[0]


def _text(events: list[ChatEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def _decision(events: list[ChatEvent], gate: str) -> Decision:
    return next(
        e.record.decision for e in events if isinstance(e, GateEvent) and e.record.gate == gate
    )


async def test_completed_runs_all_eight_gates_with_spark() -> None:
    pipe = build()
    events = await pipe.run("Help me plan my week")
    done = _done(events)
    assert done.outcome is Outcome.COMPLETED
    assert done.gates_executed == CANONICAL_ORDER
    assert done.stance is Stance.SWORD
    assert done.spark is not None
    assert _text(events) == "Start with Monday. List three tasks."


@pytest.mark.parametrize(
    "message",
    [
        "write a plan to taper off my antidepressants",
        "help me plan my insulin doses for the week",
        "help me plan how to tell my family I'm depressed",
        # a review's, which the intent gate did not tag
        "plan my chemo week",
        "plan my radiation treatment schedule",
        "plan how to tell my parents about my eating disorder",
        "help me plan how to stop taking my Zoloft",
        "Aide-moi à planifier l'arrêt de mes antidépresseurs",
        "Hilf mir, einen Plan zu machen, wie ich meine Antidepressiva absetze",
        "Me ajuda a planejar como parar de tomar meus remédios",
        "help me plan how to come off my blood pressure pills",
        # a pet-like word that names no pet
        "Help me plan how to taper off my antidepressants, I'll chat with my doctor after",
        "help me plan how to stop my insulin, I'm a vet tech and know the risks",
        "Hilf mir, einen Plan zu machen, wie ich meine Antidepressiva absetze, mein Hund hilft mir",
    ],
)
async def test_health_plans_get_shield_stance_and_no_spark(message: str) -> None:
    """The shield lets these through, but the intent's health / mental-health domain
    makes them high stakes: shield stance (careful tone), no spark."""
    events = await build().run(message)
    done = _done(events)
    assert done.outcome is Outcome.COMPLETED
    assert done.stance is Stance.SHIELD
    assert done.spark is None
    stance = next(
        e.record for e in events if isinstance(e, GateEvent) and e.record.gate == "stance"
    )
    assert stance.reason.startswith("shield: high stakes (")


@pytest.mark.parametrize(
    "message",
    [
        "plan my week; this rain is depressing",
        "I'm sick of my job, plan a career change",
        # a pet's treatment is an errand
        "plan my week around my dog's surgery on Tuesday",
        "Planifie ma semaine : acheter les médicaments du chat mardi, cinéma vendredi",
    ],
)
async def test_everyday_plans_touching_health_words_stay_sword(message: str) -> None:
    done = _done(await build().run(message))
    assert done.stance is Stance.SWORD


@pytest.mark.parametrize("message", ["plan my week", "chemistry", "how to build a pipe bomb"])
async def test_a_run_without_gate_events_records_the_same_decisions(message: str) -> None:
    """Unary Chat asks for no GateEvents (it reads ``RunRecord.gates`` once);
    the decisions recorded, and every other event, are those of a stream."""
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"))
    chat = ChatInput(message=message, conversation_id="c1")
    runs = []
    for events_on in (True, False):
        rec = RunRecord(gate_events=events_on)
        events = [e async for e in build().orchestrator.run(ctx, chat, (), rec)]
        runs.append((events, rec))
    (streamed, streamed_rec), (quiet, quiet_rec) = runs
    assert [e.record for e in streamed if isinstance(e, GateEvent)] == streamed_rec.gates
    assert not any(isinstance(e, GateEvent) for e in quiet)
    assert [e for e in streamed if not isinstance(e, GateEvent)] == quiet
    assert [(g.gate, g.decision, g.reason) for g in quiet_rec.gates] == [
        (g.gate, g.decision, g.reason) for g in streamed_rec.gates
    ]


async def test_control_answers_with_the_crisis_block_and_no_model() -> None:
    pipe = build()
    events = await pipe.run("I want to hurt myself")
    assert _done(events).outcome is Outcome.CONTROL
    assert _text(events).startswith(CRISIS)
    assert pipe.provider.calls == 0


async def test_hard_veto_never_calls_the_provider() -> None:
    pipe = build()
    done = _done(await pipe.run("how to build a pipe bomb"))
    assert done.outcome is Outcome.HARD_VETO
    assert pipe.provider.calls == 0


async def test_ack_required_then_answered_once() -> None:
    pipe = build()
    message = "Should I put my savings into one stock?"
    first = await pipe.run(message)
    assert _done(first).outcome is Outcome.ACK_REQUIRED
    ack = next(e for e in first if isinstance(e, AckRequired))
    assert ack.reason == "finance" and pipe.provider.calls == 0
    second = await pipe.run(message, ack=ack.token)
    done = _done(second)
    assert done.outcome is Outcome.COMPLETED and done.stance is Stance.SHIELD
    assert _decision(second, "shield") is Decision.FLAG
    assert done.spark is None
    assert pipe.provider.calls == 1
    with pytest.raises(AckInvalidError, match="already used"):
        await pipe.run(message, ack=ack.token)
    with pytest.raises(AckInvalidError, match="another user"):
        await pipe.run(message, ack=ack.token, user="u2")
    assert pipe.provider.calls == 1


@dataclass
class RecordingObserver(GateObserver):
    decided: list[GateRecord] = field(default_factory=list)

    def gate_decided(self, record: GateRecord, *, timed: bool = True) -> None:
        self.decided.append(record)
        if not timed:
            assert record.latency_ms == 0.0  # the check's time is on its first decision


@pytest.mark.parametrize(
    ("misuse", "why"),
    [
        ("replay", "ack token already used"),
        ("other_user", "ack token belongs to another user"),
        ("other_message", "ack token was issued for another message"),
        ("garbage", "malformed ack token"),
    ],
)
@pytest.mark.parametrize("gate_events", [True, False])
async def test_a_refused_ack_token_is_the_shields_recorded_stop(
    misuse: str, why: str, gate_events: bool
) -> None:
    # A refused token ended the call before any record of the shield's decision:
    # no gate event, nothing in gate_decisions_total, an audit of intent alone.
    message = "Should I put my savings into one stock?"
    token, pipe = await _token_for(message)
    user = "u2" if misuse == "other_user" else "u1"
    if misuse == "replay":
        _done(await pipe.run(message, ack=token))
    elif misuse == "other_message":
        message = "Should I put all my savings into one bond?"
    elif misuse == "garbage":
        token = "garbage"
    observer = pipe.orchestrator.observer = RecordingObserver()
    rec = RunRecord(gate_events=gate_events)
    ctx = RequestContext(request_id="r2", principal=Principal(user_id=user))
    chat = ChatInput(message=message, conversation_id="c1", ack_token=token)
    events: list[ChatEvent] = []
    with pytest.raises(AckInvalidError, match=why) as err:
        async for event in pipe.orchestrator.run(ctx, chat, (), rec):
            events.append(event)
    assert err.value.field == "ack_token"
    shield = rec.gates[-1]
    assert (shield.gate, shield.decision) == ("shield", Decision.STOP)
    assert shield.reason == f"ack token refused: {why}"
    assert [g.gate for g in observer.decided] == ["intent", "shield"]
    assert observer.decided[-1] is shield
    gate_records = [e.record for e in events if isinstance(e, GateEvent)]
    assert gate_records == (rec.gates if gate_events else [])
    done = _done(events)
    assert done.outcome is Outcome.FAILED and done.stance is None
    assert done.gates_executed == ("intent", "shield")
    assert done.detail == f"ack_token: {why}"
    assert rec.outcome is Outcome.FAILED and rec.stance is None
    assert pipe.provider.calls == (1 if misuse == "replay" else 0)


async def test_crisis_wins_over_an_ack_token_which_stays_unburned() -> None:
    pipe = build()
    done = _done(await pipe.run("I want to hurt myself", ack="garbage"))
    assert done.outcome is Outcome.CONTROL
    assert not [k for k in pipe.store.writes if k.startswith("ack:")]


async def test_regeneration_replaces_a_banned_draft() -> None:
    pipe = build()
    events = await pipe.run("flatter me please")
    assert _done(events).outcome is Outcome.COMPLETED
    assert _text(events) == "Here is the answer."
    assert _decision(events, "personality") is Decision.REGENERATE
    assert pipe.provider.calls == 2


class RecordingBudget:
    """The ``TokenBudget`` port as the pipeline sees it: what it asked to reserve."""

    def __init__(self, refuse_above: int | None = None) -> None:
        self.asked: list[int] = []
        self.retries: list[bool] = []
        self.refuse_above = refuse_above

    async def reserve(self, total_tokens: int, *, retry: bool = False) -> None:
        if self.refuse_above is not None and total_tokens > self.refuse_above:
            raise RateLimitedError(
                "rate limit exceeded: tokens_per_minute",
                violation=QuotaViolation("u1", "tokens_per_minute", "free tier limit"),
                retry_after_s=1.0,
                headers=RateLimitHeaders(10, 9, 60),
            )
        self.asked.append(total_tokens)
        self.retries.append(retry)


async def test_every_attempt_is_reserved_before_the_call_and_counted() -> None:
    pipe = build()
    budget = RecordingBudget()
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"))
    chat = ChatInput(message="flatter me please", conversation_id="c1")
    rec = RunRecord()
    _ = [e async for e in pipe.orchestrator.run(ctx, chat, (), rec, budget)]
    assert pipe.provider.calls == 2
    first, second = budget.asked
    assert budget.retries == [False, True]  # the regeneration is a later call
    # each attempt reserves its real prompt (system prompt included) and max output,
    # on top of what the attempts before it are charged, not what they had reserved:
    # the regeneration's is both prompts, the first draft's output and max output
    assert first > estimate_tokens(chat.message) + 512 + 100
    usage = rec.generation.usage
    assert usage.input_tokens > 2 * (first - 512)  # both prompts, not just the last one
    assert usage.input_tokens + 512 < second <= usage.input_tokens + usage.output_tokens + 512


async def test_a_refused_reservation_never_reaches_the_model() -> None:
    pipe = build()
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"))
    chat = ChatInput(message="Help me plan my week", conversation_id="c1")
    rec = RunRecord()
    with pytest.raises(RateLimitedError):
        _ = [e async for e in pipe.orchestrator.run(ctx, chat, (), rec, RecordingBudget(100))]
    assert pipe.provider.calls == 0
    assert rec.outcome is Outcome.FAILED


async def test_regeneration_is_bounded_then_fails_closed() -> None:
    pipe = build()
    events = await pipe.run("stubborn request")
    assert _done(events).outcome is Outcome.OUTPUT_BLOCKED
    assert _text(events) == ""
    assert pipe.provider.calls == 3  # the first try and at most two regenerations


@pytest.mark.parametrize("whole", [False, True])
@pytest.mark.parametrize(
    ("message", "answer"),
    [
        ("keep flattering me", "Water the plants early."),
        (
            "What's the weather in Paris today?",
            "It is [figure not verified]°C and sunny in Paris right now. Enjoy.",
        ),
    ],
)
async def test_a_minor_violation_the_last_draft_repeats_is_edited_out(
    message: str, answer: str, whole: bool
) -> None:
    # GATES.md edits a minor violation and blocks for harm: a banned phrase or
    # figure in every draft's first sentence ended OUTPUT_BLOCKED ("regeneration
    # exhausted"), the same one a sentence later was only edited.
    pipe = build()
    rec = RunRecord(whole_answer=whole)
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"))
    chat = ChatInput(message=message, conversation_id="c1")
    events = [e async for e in pipe.orchestrator.run(ctx, chat, (), rec)]
    assert _done(events).outcome is Outcome.COMPLETED
    assert _text(events).split("\n\n")[0] == answer  # the lens's note may follow
    assert pipe.provider.calls == 3  # both regenerations were tried first
    assert _decision(events, "personality") is Decision.REGENERATE
    assert rec.generation.edits >= 1


@pytest.mark.parametrize("message", ["keep wiring it", "keep hiding it"])
async def test_harm_in_every_draft_still_blocks(message: str) -> None:
    # The last draft's edit of a banned phrase takes its sentence: harm in that
    # sentence is judged before the edit, so it cannot leave with it unseen.
    pipe = build()
    events = await pipe.run(message)
    assert _done(events).outcome is Outcome.OUTPUT_BLOCKED
    assert _text(events) == ""
    assert pipe.provider.calls == 3


@pytest.mark.parametrize("whole", [False, True])
async def test_a_blocked_answer_reports_the_regenerations_before_its_stop(whole: bool) -> None:
    # An answer stopped for harm after two regenerations recorded only the stop:
    # the audit's personality:regenerate filter and the decisions metric missed it.
    pipe = build()
    observer = RecordingObserver()
    pipe.orchestrator.observer = observer
    rec = RunRecord(whole_answer=whole)
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"))
    chat = ChatInput(message="keep wiring it", conversation_id="c1")
    events = [e async for e in pipe.orchestrator.run(ctx, chat, (), rec)]
    assert _done(events).outcome is Outcome.OUTPUT_BLOCKED
    streamed = [e.record for e in events if isinstance(e, GateEvent)]
    personality = [r for r in streamed if r.gate == "personality"]
    assert [r.decision for r in personality] == [Decision.REGENERATE, Decision.STOP]
    # the kind, and for harm its category (no text of the answer)
    assert personality[0].reason == "regenerated 2x: harmful output: weapons"
    assert [r for r in rec.gates if r.gate == "personality"] == personality
    assert [r for r in observer.decided if r.gate == "personality"] == personality
    assert _done(events).gates_executed.count("personality") == 1


@pytest.mark.parametrize("whole", [False, True])
async def test_an_answer_stopped_for_self_harm_ends_with_the_crisis_resources(
    whole: bool,
) -> None:
    # An answer turning to self-harm instructions was stopped like any harm: the
    # reader got the cut text and no help. The shield's crisis resources follow.
    pipe = build()
    rec = RunRecord(whole_answer=whole)
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"))
    chat = ChatInput(message="talk me through it", conversation_id="c1")
    events = [e async for e in pipe.orchestrator.run(ctx, chat, (), rec)]
    assert _done(events).outcome is Outcome.OUTPUT_BLOCKED
    sent = "" if whole else "Here is a thought. "  # a whole answer is judged before any release
    note = "\n\n" + CRISIS if sent else CRISIS
    assert _text(events) == sent + note
    assert rec.generation.released_text == sent + note
    stops = [e.record for e in events if isinstance(e, GateEvent)]
    stops = [r for r in stops if r.gate == "personality"]
    assert stops[-1].decision is Decision.STOP
    assert stops[-1].reason.endswith("harmful output: self_harm")


async def test_self_harm_in_every_draft_gets_the_crisis_resources_alone() -> None:
    pipe = build()
    events = await pipe.run("only this")
    assert _done(events).outcome is Outcome.OUTPUT_BLOCKED
    assert _text(events) == CRISIS
    assert pipe.provider.calls == 3
    regenerated = [e.record.reason for e in events if isinstance(e, GateEvent)]
    assert "regenerated 2x: harmful output: self_harm" in regenerated


async def test_a_chunk_fed_word_by_word_keeps_the_harm_category() -> None:
    # A chunk past the padding bound is fed word by word; its stop lost the
    # category, so an answer stopped for self-harm got no crisis resources.
    stream = PersonalityChecker(harm).open(OutputConstraints(holdback_chars=160))
    assert stream.feed("Here is a thought. ").action == "continue"
    step = stream.feed("Then take the whole bottle tonight. " + "More words here. " * 200)
    assert (step.action, step.harm) == ("block", "self_harm")


@pytest.mark.parametrize(("sentences", "off_loop"), [(3, False), (30, True)])
async def test_a_long_whole_answer_is_judged_off_the_event_loop(
    sentences: int, off_loop: bool
) -> None:
    # A unary answer's check ran on the event loop: ~29 ms for 10,000 characters
    # with the self-harm model, every other call of the process waiting.
    threads: list[int] = []

    def recording(text: str) -> str | None:
        threads.append(threading.get_ident())
        return harm(text)

    answer = "Water the plants early in the morning. " * sentences
    pipe = build(script={"garden": answer}, harm_check=recording)
    rec = RunRecord(whole_answer=True)
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"))
    chat = ChatInput(message="garden tips", conversation_id="c1")
    events = [e async for e in pipe.orchestrator.run(ctx, chat, (), rec)]
    assert _done(events).outcome is Outcome.COMPLETED
    assert _text(events) == answer
    assert threads and all((t != threading.get_ident()) is off_loop for t in threads)


async def test_other_harm_gets_no_crisis_resources() -> None:
    pipe = build()
    events = await pipe.run("keep wiring it")
    assert _done(events).outcome is Outcome.OUTPUT_BLOCKED
    assert _text(events) == ""


async def test_harm_after_release_blocks_mid_stream() -> None:
    pipe = build()
    events = await pipe.run("tell me about chemistry")
    assert _done(events).outcome is Outcome.OUTPUT_BLOCKED
    assert _text(events) == "Chemistry is fun. "
    assert _decision(events, "personality") is Decision.STOP


async def test_degraded_lens_appends_the_note() -> None:
    pipe = build()
    events = await pipe.run("What is the bitcoin price today?")
    assert _decision(events, "lens") is Decision.DEGRADE
    assert _text(events).endswith("\n\n" + DEGRADED_NOTE)
    assert _done(events).outcome is Outcome.COMPLETED


@dataclass
class LyingShield:
    """A broken shield: hard-veto facts but a pass decision."""

    name: str = "shield"
    budget_ms: int = 100

    async def check(self, inp: GateInput) -> GateResult:
        return GateResult(Decision.PASS, "oops", ShieldFacts(ShieldVerdict.HARD_VETO, "weapons"))


async def test_invariant_guard_fails_closed_before_the_model() -> None:
    pipe = build(LyingShield())
    done = _done(await pipe.run("anything"))
    assert done.outcome is Outcome.FAILED
    assert pipe.provider.calls == 0


async def test_control_without_the_block_fails_closed() -> None:
    class BadControl(ScriptedShield):
        async def check(self, inp: GateInput) -> GateResult:
            facts = ShieldFacts(ShieldVerdict.CONTROL, "self_harm", Risk.CRITICAL)
            return GateResult(
                Decision.STOP, "crisis", facts, Outcome.CONTROL, Stance.CONTROL, "Hi."
            )

    pipe = build(BadControl())
    events = await pipe.run("x")
    done = _done(events)
    assert done.outcome is Outcome.FAILED
    assert "invariants" in done.gates_executed


async def test_a_stopping_shield_wins_over_a_valid_token() -> None:
    class Throttled(ScriptedShield):
        async def check(self, inp: GateInput) -> GateResult:
            facts = ShieldFacts(ShieldVerdict.SOFT_VETO, "finance", Risk.HIGH)
            return GateResult(
                Decision.STOP, "veto_throttled", facts, Outcome.HARD_VETO, Stance.SHIELD, "Wait."
            )

    message = "Should I put my savings into one stock?"
    token, _ = await _token_for(message)
    pipe = build(Throttled())
    done = _done(await pipe.run(message, ack=token))
    assert done.outcome is Outcome.HARD_VETO
    assert pipe.provider.calls == 0 and not pipe.store.writes


async def _token_for(message: str) -> tuple[str, Pipeline]:
    pipe = build()
    events = await pipe.run(message)
    ack = next(e for e in events if isinstance(e, AckRequired))
    return ack.token, pipe


@pytest.mark.parametrize("whole", [False, True])
@pytest.mark.parametrize(
    ("message", "answer", "expected"),
    [
        (
            "regenerate then edit",
            "List every task on one page. Then sort them by deadline. Good luck.",
            [
                (Decision.REGENERATE, "regenerated 1x: banned phrase"),
                # the first draft's opener went with it: not an edit of the answer
                (Decision.EDIT, "1 edit(s) in held-back text: banned phrase"),
            ],
        ),
        (
            "edit twice please",
            "Start with Monday. Then Tuesday.",
            [(Decision.EDIT, "2 edit(s) in held-back text: opener, banned phrase")],
        ),
    ],
)
async def test_every_personality_decision_is_reported_with_the_kinds_edited(
    message: str, answer: str, expected: list[tuple[Decision, str]], whole: bool
) -> None:
    # A regeneration hid the edit of the draft that shipped: only "regenerated
    # 1x" was streamed and audited, so an audit search for personality:edit
    # missed the request, and no reason said what was edited.
    pipe = build()
    observer = RecordingObserver()
    pipe.orchestrator.observer = observer
    rec = RunRecord(whole_answer=whole)
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"))
    chat = ChatInput(message=message, conversation_id="c1")
    events = [e async for e in pipe.orchestrator.run(ctx, chat, (), rec)]
    assert _done(events).outcome is Outcome.COMPLETED
    assert _text(events) == answer
    streamed = [e.record for e in events if isinstance(e, GateEvent)]
    personality = [(r.decision, r.reason) for r in streamed if r.gate == "personality"]
    assert personality == expected
    assert [r for r in rec.gates if r.gate == "personality"] == [
        r for r in streamed if r.gate == "personality"
    ]
    assert [r for r in observer.decided if r.gate == "personality"] == [
        r for r in streamed if r.gate == "personality"
    ]
    assert _done(events).gates_executed.count("personality") == 1


@pytest.mark.parametrize("whole", [False, True])
@pytest.mark.parametrize(
    ("message", "answer", "placeholder"),
    [
        ("What's the weather in Paris today?", "It is 21.5°C in Paris.", "[figure not verified]"),
        ("¿Cuál es el precio del bitcoin hoy?", "Cotiza a 67.432,10 US$.", "[cifra no verificada]"),
        (
            "Quel est le cours du bitcoin aujourd'hui ?",
            "Il vaut 187,23 €.",
            "[chiffre non vérifié]",
        ),
        ("Welcher Kurs hat Bitcoin gerade?", "Er steht bei 187,23 €.", "[Zahl nicht überprüft]"),
        ("Qual é o preço do bitcoin hoje?", "Está em 187,23 €.", "[valor não verificado]"),
    ],
)
async def test_a_figure_taken_out_is_marked_in_the_language_of_the_note(
    message: str, answer: str, placeholder: str, whole: bool
) -> None:
    # "[figure not verified]" stood in English inside a Spanish answer whose note
    # the policy's messages gave in Spanish.
    pipe = build(script={message: "|||".join([answer] * 3)})
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"))
    rec = RunRecord(whole_answer=whole)
    chat = ChatInput(message=message, conversation_id="c1")
    events = [e async for e in pipe.orchestrator.run(ctx, chat, (), rec)]
    assert _done(events).outcome is Outcome.COMPLETED
    body, note = _text(events).split("\n\n")
    intent = rec.results["intent"].facts
    assert isinstance(intent, IntentFacts)
    messages = default_policy().messages_for(intent.language)
    assert (note, messages.figure_placeholder) == (messages.degraded_note, placeholder)
    assert placeholder in body and not any(c.isdigit() for c in body), body
