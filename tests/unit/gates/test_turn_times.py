"""A stored question carries the time it was asked, not the time its answer ended.

Every turn of an exchange was stamped with one time taken when it was written:
a question asked 10 s before its streamed answer ended showed the answer's time,
and questions sent at once were stored out of the order they were asked in.
"""

from __future__ import annotations

from novaos.conversations import ConversationHistory
from novaos.domain import ChatInput, Principal, RequestContext, Started
from novaos.pipeline.orchestrator import RunRecord
from novaos.services.chat import ChatCall, ChatService
from tests.fixtures.gate_fakes import FakeStore
from tests.unit.gates.test_fail_closed_reply import AuditList
from tests.unit.gates.test_pipeline_flow import build

ASKED = 1_700_000_000


async def test_the_question_is_stored_at_the_time_it_was_asked() -> None:
    now = [float(ASKED)]
    history = ConversationHistory(FakeStore(), max_turns=20, ttl_s=3600, clock=lambda: now[0])
    chat = ChatService(
        build().orchestrator, AuditList(), conversations=history, clock=lambda: now[0]
    )
    ctx = RequestContext(request_id="r1", principal=Principal("u1"))
    call = ChatCall(ctx, ChatInput("Help me plan my week", "conv_t"), record=RunRecord())
    async for event in chat.stream(call):
        if isinstance(event, Started):
            now[0] += 10  # the answer takes 10 s
    turns = (await history.get("u1", "conv_t")).turns
    assert [(t.role, t.created_at_unix) for t in turns] == [
        ("user", ASKED),
        ("assistant", ASKED + 10),
    ]
