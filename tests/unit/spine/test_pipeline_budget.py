"""PIPELINE_TIMEOUT_MS bounds the gates together; each gate also has its own budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from novaos.domain import (
    ChatInput,
    Completed,
    Decision,
    GateEvent,
    Outcome,
    Principal,
    RequestContext,
)
from novaos.pipeline.gate import GateInput, GateResult, InlineGate
from novaos.pipeline.generation import Generator
from novaos.pipeline.orchestrator import Orchestrator, PipelinePlan, RunRecord
from novaos.pipeline.release import SentenceRelease
from novaos.ports import (
    Dropped,
    ProviderChunk,
    ProviderRequest,
    ProviderResponse,
    Released,
    Routed,
)
from novaos.providers.mock import MockProvider


class MockRouter:
    def __init__(self) -> None:
        self.provider = MockProvider(token_delay_ms=0, response_tokens=5)

    def stream(
        self, request: ProviderRequest, *, released: Released | None = None
    ) -> AsyncIterator[ProviderChunk]:
        return self.provider.stream(request)

    async def complete(
        self,
        request: ProviderRequest,
        *,
        routed: Routed | None = None,
        dropped: Dropped | None = None,
    ) -> ProviderResponse:
        return await self.provider.complete(request)


class SlowGate:
    def __init__(self, name: str, sleep_s: float, budget_ms: int = 1000) -> None:
        self.name, self.budget_ms, self._sleep = name, budget_ms, sleep_s

    async def check(self, inp: GateInput) -> GateResult:
        await asyncio.sleep(self._sleep)
        return GateResult(Decision.PASS, "ok")


async def _run(gates: tuple[SlowGate | InlineGate, ...], pipeline_s: float) -> list[object]:
    orchestrator = Orchestrator(
        PipelinePlan(pre_model=gates),
        Generator(MockRouter(), SentenceRelease()),
        pipeline_timeout_s=pipeline_s,
    )
    ctx = RequestContext("req_1", Principal("u1"))
    return [e async for e in orchestrator.run(ctx, ChatInput("hello"), (), RunRecord())]


async def test_gates_share_the_pipeline_budget() -> None:
    events = await _run((SlowGate("intent", 0.15), SlowGate("lens", 0.15)), pipeline_s=0.2)
    decisions = {e.record.gate: e.record for e in events if isinstance(e, GateEvent)}
    assert decisions["intent"].decision is Decision.PASS
    assert (
        decisions["lens"].decision is Decision.DEGRADE and "timed out" in decisions["lens"].reason
    )
    assert isinstance(events[-1], Completed)


async def test_shield_out_of_pipeline_budget_fails_closed() -> None:
    events = await _run((SlowGate("intent", 0.15), SlowGate("shield", 0.15)), pipeline_s=0.2)
    done = events[-1]
    assert isinstance(done, Completed) and done.outcome is Outcome.FAILED
    assert not any(isinstance(e, GateEvent) and e.record.gate == "personality" for e in events)


async def test_a_gate_over_its_own_budget_degrades() -> None:
    events = await _run((SlowGate("intent", 0.3, budget_ms=50),), pipeline_s=30)
    intent = next(
        e.record for e in events if isinstance(e, GateEvent) and e.record.gate == "intent"
    )
    assert intent.decision is Decision.DEGRADE


class Inline(InlineGate):
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.budget_ms, self._fail = name, 1, fail
        self.decided = 0

    def decide(self, inp: GateInput) -> GateResult:
        self.decided += 1
        if self._fail:
            raise ValueError("broken rule table")
        return GateResult(Decision.PASS, "inline")


async def test_inline_gates_decide_without_a_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gate with no I/O runs inline: no budget timer is armed for it, its
    decision is used, and one that raises still fails closed."""
    armed: list[float | None] = []
    real = asyncio.timeout

    def counting(delay: float | None) -> asyncio.Timeout:
        armed.append(delay)
        return real(delay)

    monkeypatch.setattr(asyncio, "timeout", counting)
    intent, lens = Inline("intent"), Inline("lens", fail=True)
    events = await _run((intent, lens, SlowGate("stance", 0)), pipeline_s=30)
    records = {e.record.gate: e.record for e in events if isinstance(e, GateEvent)}
    assert intent.decided == lens.decided == 1
    assert records["intent"].decision is Decision.PASS and records["intent"].reason == "inline"
    assert records["lens"].decision is Decision.DEGRADE
    assert "ValueError" in records["lens"].reason
    assert armed == [1.0]  # only the awaiting gate (stance) had a timer
    assert isinstance(events[-1], Completed)
