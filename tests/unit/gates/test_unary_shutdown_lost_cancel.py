"""A unary Chat stopped by a shutdown whose cancel the run loses still ends with
UNAVAILABLE SHUTTING_DOWN, audited cancelled and not stored.

On Python 3.11 redis-py's ``wait_for`` can swallow a cancel (``novaos.tasks``):
the run carries on to its answer although ``stop_streams`` asked it to stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

import pytest

from novaos.domain import ChatEvent, ChatInput, Outcome, Principal, RequestContext
from novaos.errors import NotFoundError, ShuttingDownError
from novaos.pipeline.orchestrator import Orchestrator, RunRecord
from novaos.ports import ChatMessage
from novaos.services.chat import ChatCall
from tests.fixtures.common import await_until, holds
from tests.unit.gates.test_fail_closed_reply import OWNER, service


@dataclass
class CancelLosingOrchestrator:
    """The real orchestrator, whose run first waits (as for Redis) in a way that
    swallows a cancel, as ``wait_for`` on 3.11 can."""

    inner: Orchestrator
    waiting: asyncio.Event = field(default_factory=asyncio.Event)
    lost: list[bool] = field(default_factory=list)

    async def run(
        self,
        ctx: RequestContext,
        chat: ChatInput,
        history: tuple[ChatMessage, ...],
        rec: RunRecord,
        *args: object,
        **kwargs: object,
    ) -> AsyncGenerator[ChatEvent, None]:
        self.waiting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.lost.append(True)  # lost: the run goes on to its answer
        async for event in self.inner.run(ctx, chat, history, rec, *args, **kwargs):  # type: ignore[arg-type]
            yield event

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


async def test_a_lost_shutdown_cancel_still_ends_the_unary_call_shutting_down() -> None:
    svc = service()
    losing = CancelLosingOrchestrator(svc.chat.orchestrator)
    svc.chat.orchestrator = losing  # type: ignore[assignment]
    ctx = RequestContext(request_id="r-stop", principal=Principal(OWNER))
    record = RunRecord(whole_answer=True)
    call = ChatCall(ctx, ChatInput("Help me plan my week", "conv_s"), record=record, live=False)

    async def consume() -> None:
        async for _ in svc.chat.stream(call):
            pass

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(losing.waiting.wait(), 10)
    assert svc.chat.stop_streams("server shutting down") == 1
    with pytest.raises(ShuttingDownError):
        await asyncio.wait_for(task, 10)

    assert losing.lost == [True]  # the cancel reached the run, which went on
    await await_until(lambda: holds(bool(svc.audit.summaries)), what="the audit summary")
    summary = svc.audit.summaries[-1]
    assert summary.outcome == Outcome.CANCELLED.value and summary.released_text == ""
    with pytest.raises(NotFoundError):  # the answer the caller never got is not stored
        await svc.history.get(OWNER, "conv_s")
    assert await svc.chat.drained(5)
