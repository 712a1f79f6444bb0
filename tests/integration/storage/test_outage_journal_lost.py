"""The outage journal lives in memory only: a process that closes before Redis is
back loses it, and its last line says what was lost, in the terms of the
conversations it belonged to (operations.md, Redis down)."""

from __future__ import annotations

import logging

import pytest

from novaos.conversations import ConversationHistory, conversation_key_group, conversation_of_key
from novaos.storage import FailoverStore, build_store
from tests.fixtures.common import free_port
from tests.integration.storage.test_outage_history import settings


async def test_closing_with_writes_not_copied_back_names_the_conversations_they_lose(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="novaos.storage")
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there: Redis is down
    store = build_store(
        settings(url), history_group=conversation_key_group, conversation_of=conversation_of_key
    )
    assert isinstance(store, FailoverStore)
    await store.connect()
    history = ConversationHistory(store, max_turns=20, ttl_s=3600)
    for conversation_id in ("plans", "recipes", "plans"):
        exchange = (("user", "a question"), ("assistant", "an answer"))
        await history.append_turns("alice", conversation_id, exchange)
    waiting = store.journal_size

    await store.aclose()

    [line] = [m for m in caplog.messages if "closing with" in m]
    assert line.startswith(f"[STORAGE] closing with {waiting} outage writes not copied to Redis")
    # Each exchange also ranked its conversation in alice's listing index.
    lost = "lost: 6 turns of 2 conversations (plans (4), recipes (2)), 3 other writes"
    assert line.endswith(lost)
