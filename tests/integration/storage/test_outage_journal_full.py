"""A Redis outage's journal that is full (``MEMORY_STORE_MAX_KEYS`` writes waiting
for Redis) refuses a chat request before the model runs. One that fills up while
an answer is generated ends that call with one terminal event saying the exchange
was not stored (a stream never just stops), stores nothing, and its audit record
says FAILED, as the client was told."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

import pytest

from novaos.conversations import ConversationHistory, conversation_key_group
from novaos.domain import ChatEvent, Completed, Outcome, Started, TextDelta
from novaos.errors import NotFoundError, StorageFullError
from novaos.providers.mock import MockProvider
from novaos.services.chat import ChatService
from novaos.storage import FailoverStore, build_store
from tests.fixtures.common import free_port
from tests.integration.storage.test_outage_history import settings
from tests.unit.gates.test_fail_closed_reply import OWNER, AuditList
from tests.unit.gates.test_pipeline_flow import build
from tests.unit.gates.test_terminal_event_order import _call

FIRST = [("user", "Help me plan my week"), ("assistant", "Start with Monday. List three tasks.")]


@dataclass
class Outage:
    store: FailoverStore
    history: ConversationHistory
    chat: ChatService
    audit: AuditList
    provider: MockProvider

    async def fill_journal(self) -> None:
        """Another user's turns, as other requests would write them, until the
        journal refuses one (an exchange's writes no longer fit)."""
        with pytest.raises(StorageFullError):
            for i in itertools.count():
                await self.history.append("someone-else", "busy", "user", f"turn {i}")

    async def turns(self, conversation_id: str) -> list[tuple[str, str]]:
        found = await self.history.get(OWNER, conversation_id)
        return [(t.role, t.text) for t in found.turns]


@pytest.fixture
async def outage() -> AsyncIterator[Outage]:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there: Redis is down
    store = build_store(
        settings(url, memory_store_max_keys=100), history_group=conversation_key_group
    )
    assert isinstance(store, FailoverStore)
    await store.connect()
    assert not store.primary_available
    history = ConversationHistory(store, max_turns=50, ttl_s=3600)
    pipe = build()
    audit = AuditList()
    chat = ChatService(pipe.orchestrator, audit, conversations=history)
    try:
        yield Outage(store, history, chat, audit, pipe.provider)
    finally:
        await store.aclose()


async def _run(outage: Outage, conversation_id: str, *, live: bool) -> list[ChatEvent]:
    events: list[ChatEvent] = []
    async with aclosing(outage.chat.stream(_call(FIRST[0][1], conversation_id, live=live))) as run:
        async for event in run:
            events.append(event)
    return events


@pytest.mark.parametrize("live", [True, False], ids=["stream", "unary"])
async def test_a_full_journal_refuses_a_request_before_the_model_runs(
    outage: Outage, live: bool
) -> None:
    await _run(outage, "c1", live=live)  # stored on memory, journalled
    assert await outage.turns("c1") == FIRST
    await outage.fill_journal()
    calls, records = outage.provider.calls, len(outage.audit.summaries)

    for conversation_id in ("c1", ""):  # a continued one, and one the server makes up
        events: list[ChatEvent] = []
        with pytest.raises(StorageFullError, match="MEMORY_STORE_MAX_KEYS"):
            events = await _run(outage, conversation_id, live=live)
        assert events == []  # refused as a call, before any event

    # Nothing spent on an answer that could not be kept, and nothing to audit.
    assert outage.provider.calls == calls
    assert len(outage.audit.summaries) == records
    assert await outage.turns("c1") == FIRST


@pytest.mark.parametrize("live", [True, False], ids=["stream", "unary"])
async def test_an_exchange_the_journal_cannot_take_ends_failed_and_is_not_kept(
    outage: Outage, live: bool
) -> None:
    await _run(outage, "c1", live=live)
    call = _call("Help me plan my week", "c1", live=live)
    events: list[ChatEvent] = []
    with pytest.raises(StorageFullError):
        async with aclosing(outage.chat.stream(call)) as run:
            async for event in run:
                events.append(event)
                if isinstance(event, Started):
                    # Admitted (the journal had room then); other requests fill it
                    # while this answer is generated.
                    await outage.fill_journal()

    assert outage.provider.calls == 2  # the answer was generated
    ends = [e for e in events if isinstance(e, Completed)]
    if live:
        # Its text went out as it came; its one terminal event says it was not kept.
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == FIRST[1][1]
        assert call.text == FIRST[1][1]
        assert len(ends) == 1 and events[-1] is ends[0]
        assert ends[0].outcome is Outcome.FAILED
        assert ends[0].detail.startswith("the exchange was not stored: ")
        assert "MEMORY_STORE_MAX_KEYS" in ends[0].detail
    else:  # a unary caller gets the error (UNAVAILABLE, STORAGE_FULL), not the text
        assert ends == [] and call.text == ""
    record = outage.audit.summaries[-1]
    assert len(outage.audit.summaries) == 2
    assert (record.outcome, record.released_text) == (Outcome.FAILED.value, call.text)
    assert await outage.turns("c1") == FIRST  # the history holds what was kept only


async def test_a_write_the_journal_cannot_take_whole_is_not_begun(outage: Outage) -> None:
    # Applied op by op until one was refused, the turns and metadata went in and
    # the index did not: a conversation whose caller was told it was not stored
    # was there all the same (and would be copied back to Redis).
    for i in range(97):
        await outage.store.set(f"nova:convowner:{{pad{i}}}", b"someone-else")
    assert outage.store.journal_size == 97

    with pytest.raises(StorageFullError):
        await outage.history.append_turns(OWNER, "c2", FIRST)

    assert outage.store.journal_size == 98  # its claim (a batch of its own), nothing more
    with pytest.raises(NotFoundError):
        await outage.history.get(OWNER, "c2")
