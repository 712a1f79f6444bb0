"""Long messages are analysed off the event loop, and decide as they would on it.

A 32k-character message costs the intent gate and the shield tens of
milliseconds of CPU. Run inline, it stalled every other stream on the loop that
long, and the shield's budget could not interrupt it. These tests pin where the
work runs (not how long it takes) and that the shield still fails closed when
its budget runs out.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

from novaos.domain import (
    ChatEvent,
    ChatInput,
    Completed,
    Decision,
    GateEvent,
    Outcome,
    Principal,
    RequestContext,
)
from novaos.pipeline.facts import ShieldFacts
from novaos.pipeline.gate import GateInput, GateResult
from novaos.pipeline.gates.intent import HEAVY_CHARS, IntentGate
from novaos.pipeline.gates.lens import LensGate
from novaos.pipeline.gates.shield import ShieldClassifier, default_classifier
from novaos.pipeline.gates.shield_gate import THREAD_CHARS, ShieldGate
from novaos.pipeline.orchestrator import Orchestrator, PipelinePlan, RunRecord
from tests.unit.gates.test_pipeline_flow import build

LONG = ("Plan my week: gym three times, two work deadlines and a dentist visit. " * 500)[:32000]


class ThreadRecordingClassifier(ShieldClassifier):
    """The real classifier, noting the thread each classification ran in."""

    def __init__(self, release: threading.Event | None = None) -> None:
        real = default_classifier()
        self.__dict__.update(real.__dict__)  # the compiled policy, shared read-only
        self.threads: list[str] = []
        self._release = release

    def classify(self, message: str, history: Sequence[str] = ()) -> ShieldFacts:
        self.threads.append(threading.current_thread().name)
        if self._release is not None:
            self._release.wait(timeout=30)
        return super().classify(message, history)


def _inp(message: str) -> GateInput:
    return GateInput(RequestContext("r1", Principal("u1")), ChatInput(message))


async def test_a_long_message_is_classified_in_a_worker_thread() -> None:
    classifier = ThreadRecordingClassifier()
    gate = ShieldGate(classifier)
    try:
        short = await gate.check(_inp("Plan my week"))
        long = await gate.check(_inp(LONG))
    finally:
        gate.close()
    loop_thread = threading.current_thread().name
    assert classifier.threads[0] == loop_thread
    assert classifier.threads[1] != loop_thread and classifier.threads[1].startswith("shield")
    assert len(LONG) >= THREAD_CHARS
    # the same verdicts as classified inline
    inline = default_classifier()
    assert short.facts == inline.classify("Plan my week")
    assert long.facts == inline.classify(LONG)
    assert long.decision is Decision.PASS


async def test_a_shield_over_its_cpu_budget_fails_closed_while_the_loop_runs_on() -> None:
    """Inline, a classification could not be timed out; in its thread the CPU it
    took is measured: over the budget, the request is refused, as for any
    shield timeout, and the loop ran on meanwhile."""
    classifier = BusyClassifier(cpu_s=1.0)
    shield = ShieldGate(classifier, budget_ms=20)  # x16 for 32k characters: 0.32 s
    pipe = build(shield)
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0.001)

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(ticker())
            events = await pipe.run(LONG)
            done = True
    finally:
        shield.close()
    records = [e.record for e in events if isinstance(e, GateEvent)]
    shield_record = next(r for r in records if r.gate == "shield")
    assert shield_record.decision is Decision.STOP and "timed out" in shield_record.reason
    finished = events[-1]
    assert isinstance(finished, Completed) and finished.outcome is Outcome.FAILED
    assert pipe.provider.calls == 0
    assert ticks > 1  # the loop kept running while the shield worked


class RecordingIntent(IntentGate):
    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def decide(self, inp: GateInput) -> GateResult:
        self.threads.append(threading.current_thread().name)
        return super().decide(inp)


async def test_long_messages_are_analysed_off_the_loop_by_intent_and_lens() -> None:
    intent = RecordingIntent()
    assert intent.heavy(_inp(LONG)) and not intent.heavy(_inp("Plan my week"))
    assert len(LONG) >= HEAVY_CHARS
    orchestrator = build().orchestrator
    plan = PipelinePlan((intent, *orchestrator.plan.pre_model[1:]), orchestrator.plan.post_model)
    orchestrator = Orchestrator(plan, orchestrator.generator)
    ctx = RequestContext("r1", Principal("u1"))
    for message in (LONG, "Plan my week"):
        rec = RunRecord()
        async for _ in orchestrator.run(ctx, ChatInput(message, "c1"), (), rec):
            pass
        assert rec.results["intent"].facts == IntentGate().decide(_inp(message)).facts
    loop_thread = threading.current_thread().name
    assert intent.threads[0] != loop_thread and intent.threads[1] == loop_thread
    lens = await LensGate(None).check(_inp(LONG + " what's the weather today?"))
    assert lens.decision is Decision.DEGRADE  # found in its thread all the same


class BusyClassifier(ThreadRecordingClassifier):
    """Burns ``cpu_s`` of CPU per classification: a costly text."""

    def __init__(self, cpu_s: float) -> None:
        super().__init__()
        self.cpu_s = cpu_s

    def classify(self, message: str, history: Sequence[str] = ()) -> ShieldFacts:
        started = time.thread_time()
        while time.thread_time() - started < self.cpu_s:
            pass
        return super().classify(message, history)


class WaitingClassifier(ThreadRecordingClassifier):
    """Takes ``wall_s`` per classification without using the CPU: its thread
    waiting, as for the GIL on a busy machine."""

    def __init__(self, wall_s: float) -> None:
        super().__init__()
        self.wall_s = wall_s

    def classify(self, message: str, history: Sequence[str] = ()) -> ShieldFacts:
        time.sleep(self.wall_s)
        return super().classify(message, history)


def _outcome(events: list[ChatEvent]) -> Outcome:
    done = events[-1]
    assert isinstance(done, Completed)
    return done.outcome


async def test_the_shield_cpu_budget_grows_with_the_text_it_reads() -> None:
    """SHIELD_BUDGET_MS of CPU per THREAD_CHARS characters: a 32k message that
    takes three base budgets is not refused, while one of THREAD_CHARS is."""
    outcomes = {}
    for message in (LONG, LONG[:THREAD_CHARS]):
        shield = ShieldGate(BusyClassifier(cpu_s=0.15), budget_ms=50)
        try:
            outcomes[len(message)] = _outcome(await build(shield).run(message))
        finally:
            shield.close()
    assert outcomes == {len(LONG): Outcome.COMPLETED, THREAD_CHARS: Outcome.FAILED}


async def test_waiting_for_a_worker_thread_does_not_count_against_the_budget() -> None:
    """Six long messages at once on two threads, each taking four budgets of wall
    time but little CPU: the later ones wait their turn, none is refused (a
    wall-clock budget refused such bursts on a busy machine)."""
    shield = ShieldGate(WaitingClassifier(wall_s=0.2), budget_ms=50)
    pipe = build(shield)
    message = LONG[:THREAD_CHARS]
    try:
        runs = await asyncio.gather(*(pipe.run(message, user=f"u{i}") for i in range(6)))
    finally:
        shield.close()
    assert [_outcome(events) for events in runs] == [Outcome.COMPLETED] * 6
