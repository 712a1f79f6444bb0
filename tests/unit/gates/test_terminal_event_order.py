"""The chat service writes a call's audit summary and stores its exchange before
it hands out the terminal event: a client that sends its next turn as soon as
it sees ``completed`` finds this one in the history, and an audit that must be
stored before the reply (``AUDIT_STORE_BEFORE_REPLY``) can hold the reply back.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from novaos.domain import ChatInput, Completed, Outcome, Principal, RequestContext, TextDelta
from novaos.errors import AuditNotStoredError
from novaos.pipeline.orchestrator import RunRecord
from novaos.ports import RequestSummary
from novaos.services.chat import ChatCall
from tests.fixtures.common import await_until, holds
from tests.unit.gates.test_fail_closed_reply import OWNER, Service, service


class RefusingAudit:
    """An audit log whose records are never stored (sink and spill both down)."""

    def __init__(self) -> None:
        self.summaries: list[RequestSummary] = []

    async def record(self, summary: RequestSummary) -> None:
        self.summaries.append(summary)
        raise AuditNotStoredError("audit record not stored: sink and spill both failed")


def _call(message: str, conversation_id: str, *, live: bool) -> ChatCall:
    ctx = RequestContext(request_id="r1", principal=Principal(OWNER))
    record = RunRecord(whole_answer=not live, gate_events=live)
    return ChatCall(ctx, ChatInput(message, conversation_id), record=record, live=live)


@pytest.mark.parametrize("live", [True, False], ids=["stream", "unary"])
async def test_the_terminal_event_comes_after_the_audit_and_the_history(live: bool) -> None:
    svc: Service = service()
    seen_at_completed: tuple[list[str], list[tuple[str, str]]] | None = None
    async for event in svc.chat.stream(_call("Help me plan my week", "conv_a", live=live)):
        if isinstance(event, Completed):
            turns = (await svc.history.get(OWNER, "conv_a")).turns
            outcomes = [s.outcome for s in svc.audit.summaries]
            seen_at_completed = (outcomes, [(t.role, t.text) for t in turns])

    assert seen_at_completed == (
        [Outcome.COMPLETED.value],
        [("user", "Help me plan my week"), ("assistant", "Start with Monday. List three tasks.")],
    )
    assert len(svc.audit.summaries) == 1  # written once, not again on the way out


@pytest.mark.parametrize("live", [True, False], ids=["stream", "unary"])
async def test_an_audit_that_cannot_store_holds_the_terminal_event_back(live: bool) -> None:
    svc = service()
    refusing = RefusingAudit()
    svc.chat.audit = refusing
    events: list[object] = []

    with pytest.raises(AuditNotStoredError):
        async for event in svc.chat.stream(_call("Help me plan my week", "conv_b", live=live)):
            events.append(event)

    ends = [e for e in events if isinstance(e, Completed)]
    if live:
        # A stream has sent its text as it went; its end says it failed, in-band,
        # since SSE clients never see the status that follows it.
        assert "".join(e.text for e in events if isinstance(e, TextDelta))
        assert [(e.outcome, e.detail) for e in ends] == [
            (Outcome.FAILED, "audit record not stored: sink and spill both failed")
        ]
        assert events[-1] is ends[0]
    else:  # a unary reply is withheld whole: the caller gets only the error
        assert ends == []
    assert [s.outcome for s in refusing.summaries] == [Outcome.COMPLETED.value]  # once


class StallingAudit:
    """An audit log that takes the summary, then waits for the store (an fsync that
    does not come back) until the caller gives up."""

    def __init__(self) -> None:
        self.summaries: list[RequestSummary] = []

    async def record(self, summary: RequestSummary) -> None:
        self.summaries.append(summary)
        await asyncio.Event().wait()


@pytest.mark.parametrize("live", [True, False], ids=["stream", "unary"])
async def test_a_call_cancelled_while_its_record_is_stored_still_stores_the_exchange(
    live: bool,
) -> None:
    svc = service()
    stalling = StallingAudit()
    svc.chat.audit = stalling

    async def consume() -> None:
        async for _ in svc.chat.stream(_call("Help me plan my week", "conv_c", live=live)):
            pass

    task = asyncio.create_task(consume())
    await await_until(lambda: holds(bool(stalling.summaries)), what="the record under way")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def stored() -> bool:
        return len((await svc.history.get(OWNER, "conv_c")).turns) == 2

    await await_until(stored, what="the exchange stored")
    assert await svc.chat.drained(timeout_s=5)
    assert [s.outcome for s in stalling.summaries] == [Outcome.COMPLETED.value]


async def test_an_audit_that_cannot_store_does_not_replace_a_cancel() -> None:
    svc = service()
    refusing = RefusingAudit()
    svc.chat.audit = refusing
    # The caller stops reading after the first text: there is no answer to hold
    # back, so closing the stream must not raise the audit's error instead.
    async with aclosing(svc.chat.stream(_call("Help me plan my week", "conv_d", live=True))) as s:
        async for event in s:
            if isinstance(event, TextDelta):
                break
    assert [x.outcome for x in refusing.summaries] == [Outcome.CANCELLED.value]
