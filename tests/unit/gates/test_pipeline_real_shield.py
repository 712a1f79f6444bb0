"""Invariants as properties with the real shield: labelled messages x scripted outputs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from novaos.domain import Completed, Outcome, Stance, TextDelta
from novaos.pipeline.gates.rules import find_banned
from novaos.pipeline.gates.shield import ShieldClassifier
from novaos.pipeline.gates.shield_gate import ShieldGate
from tests.unit.gates.test_pipeline_flow import build
from tests.unit.gates.test_pipeline_properties import SENTENCES

DATA = Path(__file__).resolve().parents[2] / "data" / "shield_labelled.jsonl"
ROWS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
CLASSIFIER = ShieldClassifier()  # immutable after construction: compiled policy only


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    row=st.sampled_from(ROWS),
    output=st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=6).map("".join),
)
def test_invariants_hold_with_the_real_shield(row: dict[str, object], output: str) -> None:
    message = str(row["text"])
    pipe = build(
        ShieldGate(CLASSIFIER), script={message: output}, crisis_block=CLASSIFIER.crisis_block
    )
    events = asyncio.run(pipe.run(message))
    done = events[-1]
    assert isinstance(done, Completed)
    assert sum(isinstance(e, Completed) for e in events) == 1
    released = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert find_banned(released) is None
    assert done.outcome is not Outcome.FAILED
    if done.outcome in (Outcome.HARD_VETO, Outcome.CONTROL, Outcome.ACK_REQUIRED):
        assert pipe.provider.calls == 0
    if done.outcome is Outcome.CONTROL:
        blocks = [CLASSIFIER.crisis_block(lang) for lang in ("en", "es", "fr", "de", "pt")]
        assert any(released.startswith(block) for block in blocks)
    if done.spark is not None:
        assert done.stance is Stance.SWORD
