"""Two users name the same new conversation id at once.

Both found it unclaimed when their requests opened it. The second to write
used to be told NOT_FOUND only when its history was stored: after the model
had answered and, for a stream, after all its text had gone out, with no
terminal event. The id is now claimed once the request is admitted, before
any event, so the second caller hears NOT_FOUND before anything is generated.
"""

from __future__ import annotations

import asyncio

import pytest

from novaos.conversations import ConversationHistory
from novaos.domain import ChatInput, Principal, RequestContext
from novaos.errors import NotFoundError
from novaos.pipeline.orchestrator import RunRecord
from novaos.ports import OpenedTurn
from novaos.services.chat import ChatCall
from tests.unit.gates.test_fail_closed_reply import OWNER, service

OTHER = "u2"


class PausedOpen:
    """History whose open for ``OTHER`` waits, after its read, until let go."""

    def __init__(self, inner: ConversationHistory) -> None:
        self.inner = inner
        self.read, self.go = asyncio.Event(), asyncio.Event()

    async def open_turn(self, owner: str, conversation_id: str) -> OpenedTurn:
        opened = await self.inner.open_turn(owner, conversation_id)
        if owner == OTHER:
            self.read.set()
            await self.go.wait()
        return opened

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def _call(user: str, message: str, *, live: bool) -> ChatCall:
    ctx = RequestContext(request_id=f"r-{user}", principal=Principal(user))
    record = RunRecord(whole_answer=not live, gate_events=live)
    return ChatCall(ctx, ChatInput(message, "conv_new"), record=record, live=live)


@pytest.mark.parametrize("live", [True, False], ids=["stream", "unary"])
async def test_the_second_to_name_a_new_id_hears_not_found_before_any_event(live: bool) -> None:
    svc = service()
    paused = PausedOpen(svc.history)
    svc.chat.conversations = paused
    late_events: list[object] = []

    async def late() -> None:
        async for event in svc.chat.stream(_call(OTHER, "Is it mine?", live=live)):
            late_events.append(event)

    task = asyncio.create_task(late())
    await paused.read.wait()  # it found the id free
    async for _ in svc.chat.stream(_call(OWNER, "Help me plan my week", live=live)):
        pass  # the first one is answered and stores its turn under the id
    paused.go.set()
    with pytest.raises(NotFoundError):
        await task

    assert late_events == []  # no Started, no text: nothing was generated
    turns = (await svc.history.get(OWNER, "conv_new")).turns
    assert [t.role for t in turns] == ["user", "assistant"]
    with pytest.raises(NotFoundError):
        await svc.history.get(OTHER, "conv_new")
