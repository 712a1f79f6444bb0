from __future__ import annotations

from collections.abc import Sequence

import pytest

from novaos.domain import Decision, SparkSuggestion, Stance
from novaos.pipeline.facts import IntentFacts, Risk, ShieldFacts, ShieldVerdict, StanceFacts
from novaos.pipeline.gate import GateResult
from novaos.pipeline.gates.spark import SparkGate, pick_template
from novaos.ports import GetOp, StoreOp
from tests.fixtures.gate_fakes import FakeStore, ManualClock, gate_input


def _prior(
    stance: Stance = Stance.SWORD, shield: ShieldFacts | None = None
) -> dict[str, GateResult]:
    return {
        "shield": GateResult(Decision.PASS, facts=shield or ShieldFacts(ShieldVerdict.PASS)),
        "stance": GateResult(Decision.PASS, facts=StanceFacts(stance), stance=stance),
    }


@pytest.mark.parametrize(
    ("message", "template"),
    [
        ("Make me a workout routine", "exercise"),
        ("Help me write my essay intro", "writing"),
        ("Make a revision schedule for my exam", "study"),
        ("Draft an email to my landlord", "email"),
        ("Plan my week", "planning"),
        ("Fix my bike chain", "default"),
    ],
)
def test_templates(message: str, template: str) -> None:
    assert pick_template(message)[0] == template


async def test_spark_in_sword_with_calm_shield(store: FakeStore) -> None:
    result = await SparkGate(store).check(gate_input("Make me a workout routine", prior=_prior()))
    assert isinstance(result.facts, SparkSuggestion)
    assert result.facts.minutes <= 15
    assert result.reason == "spark: exercise"


@pytest.mark.parametrize(
    ("stance", "shield"),
    [
        (Stance.LENS, None),
        (Stance.SHIELD, ShieldFacts(ShieldVerdict.SOFT_VETO, ack_accepted=True)),
        (Stance.SWORD, ShieldFacts(ShieldVerdict.SOFT_VETO, ack_accepted=True)),
        (Stance.SWORD, ShieldFacts(ShieldVerdict.PASS, risk=Risk.MEDIUM)),
    ],
)
async def test_no_spark_outside_calm_sword(
    store: FakeStore, stance: Stance, shield: ShieldFacts | None
) -> None:
    result = await SparkGate(store).check(gate_input("Plan my week", prior=_prior(stance, shield)))
    assert result.facts is None
    assert result.reason.startswith("no spark")
    assert store.writes == []


@pytest.mark.parametrize("domain", ["health", "mental_health"])
async def test_no_spark_on_a_health_or_mental_health_plan(store: FakeStore, domain: str) -> None:
    """Low stakes means the intent's domains too: even in sword stance (a stance gate
    that did not run, or ran before this rule) a medication plan gets no spark."""
    prior = _prior()
    prior["intent"] = GateResult(
        Decision.PASS, facts=IntentFacts(type="planning", domains=frozenset({domain}))
    )
    result = await SparkGate(store).check(gate_input("Plan my insulin doses", prior=prior))
    assert result.facts is None
    assert result.reason == f"no spark: high stakes ({domain})"
    assert store.writes == []


async def test_gap_and_daily_limit_per_user(store: FakeStore, clock: ManualClock) -> None:
    clock.now = 1_800_000_000 - 1_800_000_000 % 86400  # start of a day
    gate = SparkGate(store, clock=clock)
    inp = gate_input("Plan my week", prior=_prior())
    assert (await gate.check(inp)).facts is not None
    too_soon = await gate.check(inp)
    assert too_soon.facts is None and "too soon" in too_soon.reason
    other_user = gate_input("Plan my week", prior=_prior(), user="user-2")
    assert (await gate.check(other_user)).facts is not None
    given = 1
    for _ in range(10):
        clock.advance(31 * 60)
        if (await gate.check(inp)).facts is not None:
            given += 1
    assert given == 5
    clock.advance(86400)  # a new day
    assert (await gate.check(inp)).facts is not None


class CountingFakeStore(FakeStore):
    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.round_trips = 0

    async def get(self, key: str) -> bytes | None:
        self.round_trips += 1
        return await super().get(key)

    async def set(
        self, key: str, value: bytes, *, ttl_ms: int | None = None, nx: bool = False
    ) -> bool:
        self.round_trips += 1
        return await super().set(key, value, ttl_ms=ttl_ms, nx=nx)

    async def incr(self, key: str, amount: int = 1, *, ttl_ms: int | None = None) -> int:
        self.round_trips += 1
        counted = self.round_trips
        value = await super().incr(key, amount, ttl_ms=ttl_ms)
        self.round_trips = counted  # the fake's incr reads through get(): one trip in all
        return value

    async def batch(self, ops: Sequence[StoreOp]) -> list[object]:
        self.round_trips += 1
        return [await FakeStore.get(self, op.key) for op in ops if isinstance(op, GetOp)]


async def test_a_refusal_costs_one_round_trip(clock: ManualClock) -> None:
    clock.now = 1_800_000_000 - 1_800_000_000 % 86400
    store = CountingFakeStore(clock)
    gate = SparkGate(store, clock=clock, daily_max=2, min_gap_s=60)
    inp = gate_input("Plan my week", prior=_prior())
    trips = []
    for step in (0, 0, 61, 61):  # spark, too soon, spark, daily limit
        clock.advance(step)
        store.round_trips = 0
        trips.append(((await gate.check(inp)).reason.split(":")[1].strip(), store.round_trips))
    # A spark: both keys read, the gap taken, the day counted. A refusal: one read.
    assert trips == [
        ("planning", 3),
        ("too soon since the last spark", 1),
        ("planning", 3),
        ("daily limit reached", 1),
    ]
