"""The shield's watch band through the pipeline: a message the learned model
found close to a crisis without stopping it is answered, in the careful
stance, with a line for the model to take care and NovaOS's own support note
at the end (in the user's language), and no spark."""

from __future__ import annotations

from novaos.domain import (
    ChatInput,
    Decision,
    Outcome,
    Principal,
    RequestContext,
    Stance,
    TextDelta,
)
from novaos.pipeline.facts import ModelFacts, Risk, ShieldFacts, ShieldVerdict
from novaos.pipeline.gates.shield import ShieldClassifier
from novaos.pipeline.gates.shield_gate import ShieldGate
from novaos.pipeline.orchestrator import RunRecord
from tests.unit.gates.test_pipeline_flow import VERDICTS, ScriptedShield, build
from tests.unit.shield.test_shield_model import tiny

NOTE = "If any of this is weighing on you, call or text 988."
WATCHED = ShieldFacts(
    ShieldVerdict.PASS,
    "self_harm",
    Risk.HIGH,
    flags=frozenset({"watch"}),
    matched="watch:0.64",
    support_note=NOTE,
)


async def _run(message: str) -> tuple[list[object], RunRecord]:
    pipe = build(ScriptedShield({**VERDICTS, "rough week": WATCHED}))
    rec = RunRecord()
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"))
    chat = ChatInput(message=message, conversation_id="c1")
    events = [e async for e in pipe.orchestrator.run(ctx, chat, (), rec)]
    return events, rec


async def test_a_watched_message_is_answered_with_care_and_ends_with_the_note() -> None:
    events, rec = await _run("Help me plan my week, it was a rough week")
    done = events[-1]
    assert getattr(done, "outcome", None) is Outcome.COMPLETED
    assert rec.stance is Stance.SHIELD and getattr(done, "spark", "x") is None
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.endswith("\n\n" + NOTE) and len(text) > len(NOTE) + 2
    model = rec.results["model"]
    assert isinstance(model.facts, ModelFacts)
    assert "The user may be going through something hard." in model.facts.system_prompt
    assert model.reason.endswith(", support note")
    assert {g.gate: g.decision for g in rec.gates}["shield"] is Decision.PASS  # as scripted


async def test_without_the_watch_there_is_no_note() -> None:
    events, rec = await _run("Help me plan my week")
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert NOTE not in text and rec.stance is Stance.SWORD
    model = rec.results["model"]
    assert isinstance(model.facts, ModelFacts)
    assert "going through something hard" not in model.facts.system_prompt


async def test_a_watched_answer_that_is_blocked_still_ends_with_the_note() -> None:
    # "chemistry" is scripted to write detonator wiring after release: blocked.
    events, rec = await _run("a rough week, tell me about chemistry")
    done = events[-1]
    assert getattr(done, "outcome", None) is Outcome.OUTPUT_BLOCKED
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.endswith(NOTE) and text.count(NOTE) == 1
    assert rec.generation.released_text.endswith(NOTE)


async def test_the_real_shield_gate_flags_the_band_through_the_pipeline() -> None:
    classifier = ShieldClassifier(model=tiny(**{"w:zzqx": [0.0, 13.0, 0.0]}))
    pipe = build(ShieldGate(classifier, None))
    rec = RunRecord()
    ctx = RequestContext(request_id="r1", principal=Principal(user_id="u1"))
    chat = ChatInput(message="zzqx tonight", conversation_id="c1")
    events = [e async for e in pipe.orchestrator.run(ctx, chat, (), rec)]
    shield = next(g for g in rec.gates if g.gate == "shield")
    assert shield.decision is Decision.FLAG and shield.reason.startswith("watch:self_harm")
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.endswith("\n\n" + classifier.support_note("en"))
    assert getattr(events[-1], "outcome", None) is Outcome.COMPLETED
