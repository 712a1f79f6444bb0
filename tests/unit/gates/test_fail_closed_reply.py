"""The chat service over the real orchestrator: a run that fails its final
invariant check gives a unary caller no text, and keeps none in audit or history.

A stream has already sent its text when the check runs (its terminal event says
FAILED); a unary reply has not, so it can, and must, withhold it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from novaos.conversations import ConversationHistory
from novaos.domain import ChatInput, Completed, Outcome, Principal, RequestContext
from novaos.errors import NotFoundError
from novaos.pipeline.gate import GateInput, GateResult
from novaos.pipeline.orchestrator import RunRecord
from novaos.ports import RequestSummary
from novaos.services.chat import ChatCall, ChatService
from tests.fixtures.gate_fakes import FakeStore
from tests.unit.gates.test_pipeline_flow import CRISIS, VERDICTS, ScriptedShield, build

OWNER = "u1"


@dataclass
class AuditList:
    summaries: list[RequestSummary] = field(default_factory=list)

    async def record(self, summary: RequestSummary) -> None:
        self.summaries.append(summary)


@dataclass
class Service:
    chat: ChatService
    audit: AuditList
    history: ConversationHistory

    async def call(self, message: str, conversation_id: str, *, live: bool) -> ChatCall:
        ctx = RequestContext(request_id=f"r{len(self.audit.summaries)}", principal=Principal(OWNER))
        record = RunRecord(whole_answer=not live, gate_events=live)
        call = ChatCall(ctx, ChatInput(message, conversation_id), record=record, live=live)
        async for _ in self.chat.stream(call):
            pass
        return call


def service(shield: object | None = None) -> Service:
    # The orchestrator expects a crisis block the shield does not render: every
    # control answer breaks the invariant "a control response starts with the block".
    pipe = build(shield, crisis_block=lambda language: "A different block.")
    audit = AuditList()
    history = ConversationHistory(FakeStore(), max_turns=20, ttl_s=3600)
    chat = ChatService(pipe.orchestrator, audit, conversations=history)
    return Service(chat, audit, history)


def _done(call: ChatCall) -> Completed:
    assert call.completed is not None
    return call.completed


async def test_a_unary_reply_that_fails_closed_carries_no_text() -> None:
    svc = service()
    await svc.call("Help me plan my week", "conv_a", live=False)  # stored: one exchange

    call = await svc.call("I want to hurt myself", "conv_a", live=False)

    assert _done(call).outcome is Outcome.FAILED
    assert call.record.violations == ("control response does not start with the crisis block",)
    assert call.text == ""
    summary = svc.audit.summaries[-1]
    assert summary.outcome == Outcome.FAILED.value and summary.released_text == ""
    turns = (await svc.history.get(OWNER, "conv_a")).turns
    assert [(t.role, t.text) for t in turns] == [
        ("user", "Help me plan my week"),
        ("assistant", "Start with Monday. List three tasks."),
    ]


async def test_a_fresh_conversation_that_fails_closed_is_not_stored() -> None:
    svc = service()
    await svc.call("I want to hurt myself", "conv_b", live=False)
    with pytest.raises(NotFoundError):
        await svc.history.get(OWNER, "conv_b")


async def test_a_stream_that_fails_closed_audits_what_it_sent() -> None:
    """Its text is out before the check: the audit must say so, not pretend otherwise."""
    svc = service()
    call = await svc.call("I want to hurt myself", "conv_c", live=True)
    assert _done(call).outcome is Outcome.FAILED
    assert call.text.startswith(CRISIS)
    assert svc.audit.summaries[-1].released_text == call.text


async def test_a_shield_that_fails_closed_still_says_so_in_a_unary_reply() -> None:
    """FAILED without a violation: the text is NovaOS's own notice, not an answer."""

    class BrokenShield(ScriptedShield):
        async def check(self, inp: GateInput) -> GateResult:
            raise RuntimeError("classifier crashed")

    svc = service(BrokenShield(VERDICTS))
    call = await svc.call("Help me plan my week", "conv_d", live=False)
    assert _done(call).outcome is Outcome.FAILED
    assert call.record.violations == ()
    assert call.text == "This request could not be safety-checked, so it was not processed."
    assert svc.audit.summaries[-1].released_text == call.text
