"""A gate's budget bounds its own work, not its waits for the store: the shield
counts its CPU time, and the spark gate may take the store's timeout per call on
top of its budget (after which the store answers from memory). A Redis slower
than a budget, but not down, delays a request rather than refusing it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from novaos.domain import (
    ChatEvent,
    ChatInput,
    Completed,
    Decision,
    Outcome,
    Principal,
    RequestContext,
)
from novaos.pipeline.ack import AckTokens
from novaos.pipeline.ack_flow import AckShieldGate
from novaos.pipeline.gates.capability import CapabilityGate
from novaos.pipeline.gates.intent import IntentGate
from novaos.pipeline.gates.lens import LensGate
from novaos.pipeline.gates.model import ModelGate
from novaos.pipeline.gates.personality import PersonalityChecker
from novaos.pipeline.gates.shield import default_classifier
from novaos.pipeline.gates.shield_gate import ShieldGate, VetoThrottle
from novaos.pipeline.gates.spark import SparkGate
from novaos.pipeline.gates.stance import StanceGate
from novaos.pipeline.generation import Generator
from novaos.pipeline.orchestrator import Orchestrator, PipelinePlan, RunRecord
from novaos.providers.mock import MockProvider
from novaos.providers.router import ProviderRouter, RouterSettings
from tests.fixtures.gate_fakes import FakeStore, ManualClock

BUDGET_MS = 5  # each store read below takes ten times that
STORE_LATENCY_S = 0.05


class SlowStore(FakeStore):
    """Answers every read, just late: a Redis that is busy, not down."""

    def __init__(self, latency_s: float) -> None:
        super().__init__(ManualClock())
        self.latency_s = latency_s
        self.reads = 0

    async def get(self, key: str) -> bytes | None:
        self.reads += 1
        await asyncio.sleep(self.latency_s)  # the latency simulated, not a wait for something
        return await super().get(key)


def orchestrator(
    store: SlowStore, store_wait_s: float = 0.0, pipeline_timeout_s: float = 30.0
) -> Orchestrator:
    shield = ShieldGate(
        default_classifier(), VetoThrottle(store, limit=5, window_ms=60_000), budget_ms=BUDGET_MS
    )
    plan = PipelinePlan(
        pre_model=(
            IntentGate(),
            AckShieldGate(shield, AckTokens(b"k" * 32, store)),
            LensGate(None),
            StanceGate(),
            CapabilityGate(),
            ModelGate(),
        ),
        post_model=(SparkGate(store, budget_ms=BUDGET_MS),),
    )
    generator = Generator(
        ProviderRouter({"mock": MockProvider(token_delay_ms=0)}, RouterSettings(preferred="mock")),
        PersonalityChecker(lambda text: None),
        flush_interval_s=0,
    )
    return Orchestrator(
        plan, generator, store_wait_s=store_wait_s, pipeline_timeout_s=pipeline_timeout_s
    )


async def run(orch: Orchestrator) -> tuple[Completed, RunRecord]:
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"))
    chat = ChatInput(message="help me plan my week", conversation_id="c1")
    rec = RunRecord()
    events: list[ChatEvent] = [e async for e in orch.run(ctx, chat, (), rec)]
    assert isinstance(events[-1], Completed)
    return events[-1], rec


async def test_a_store_slower_than_the_shield_budget_delays_the_request() -> None:
    # The shield's budget is its own CPU time: the wait for the veto throttle's
    # read is not counted, however short the budget.
    store = SlowStore(STORE_LATENCY_S)
    done, _ = await run(orchestrator(store))
    assert store.reads >= 1, "the veto throttle was read"
    assert done.outcome is Outcome.COMPLETED, done.detail


async def test_the_spark_gate_gets_the_store_timeout_per_call_on_top_of_its_budget() -> None:
    # Spark reads, sets and counts in the store: each call may take the store's
    # timeout before the store answers from memory.
    for store_wait_s, degraded in ((0.0, True), (1.0, False)):
        _, rec = await run(orchestrator(SlowStore(STORE_LATENCY_S), store_wait_s))
        spark = rec.results["spark"]
        assert (spark.decision is Decision.DEGRADE) is degraded, spark.reason
        if degraded:
            assert spark.reason == "spark timed out; degraded"


async def test_a_store_that_never_answers_still_fails_the_shield_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Bounded by what is left of PIPELINE_TIMEOUT_MS.
    with caplog.at_level(logging.WARNING, logger="novaos.pipeline"):
        done, _ = await run(orchestrator(SlowStore(latency_s=3600), pipeline_timeout_s=0.2))
    assert done.outcome is Outcome.FAILED
    assert "shield timed out" in done.detail
    # the refusal is logged for operators, not only counted as an outcome
    warned = [r for r in caplog.records if getattr(r, "gate", "") == "shield"]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    assert warned[0].getMessage() == "Gate failed: shield timed out; request refused"
    assert getattr(warned[0], "requestId", "") == "r1"
