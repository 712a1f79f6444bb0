"""Conversation history: last N turns, TTL, and owners who never see each other's."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

import pytest

from novaos.config import load_settings
from novaos.conversations import ConversationHistory
from novaos.domain import ChatInput
from novaos.errors import (
    ConfigError,
    HistoryUnavailableError,
    InvalidArgumentError,
    NotFoundError,
)
from novaos.ports import ChatMessage, OpenedTurn, StoreOp, TurnEnding
from novaos.services.chat import ChatLimits, validate
from novaos.storage import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make(max_turns: int = 4) -> tuple[ConversationHistory, MemoryStore, Clock]:
    store, clock = MemoryStore(), Clock()
    return ConversationHistory(store, max_turns=max_turns, ttl_s=3600, clock=clock), store, clock


async def test_keeps_the_last_n_turns_in_order() -> None:
    history, _, _ = make(max_turns=4)
    for i in range(6):
        await history.append("alice", "c1", "user" if i % 2 == 0 else "assistant", f"m{i}")
    assert await history.history("alice", "c1") == (
        ChatMessage("user", "m2"),
        ChatMessage("assistant", "m3"),
        ChatMessage("user", "m4"),
        ChatMessage("assistant", "m5"),
    )
    conversation = await history.get("alice", "c1")
    assert [t.text for t in conversation.turns] == ["m2", "m3", "m4", "m5"]
    assert conversation.turns[0].created_at_unix == 1_700_000_000


async def test_a_lowered_max_turns_applies_to_reads_before_the_next_write() -> None:
    # CONVERSATION_MAX_TURNS was applied only when a write trimmed the list: after
    # an operator lowered it (or on a replica already updated, beside one that is
    # not), the next request sent every old turn to the model, and GetConversation
    # and the listing showed them all.
    store, clock = MemoryStore(), Clock()
    before = ConversationHistory(store, max_turns=20, ttl_s=3600, clock=clock)
    for i in range(10):
        await before.append_turns("alice", "c1", (("user", f"q{i}"), ("assistant", f"a{i}")))
    after = ConversationHistory(store, max_turns=4, ttl_s=3600, clock=clock)
    latest = ["q8", "a8", "q9", "a9"]
    assert [m.content for m in await after.history("alice", "c1")] == latest
    assert [t.text for t in (await after.get("alice", "c1")).turns] == latest
    assert [s.turn_count for s in await after.list("alice")] == [4]
    assert len((await before.get("alice", "c1")).turns) == 20  # nothing was cut


async def test_an_answer_keeps_how_it_ended() -> None:
    # Read back, a cut or blocked answer looked like any complete one.
    history, _, _ = make()
    exchange = (("user", "q"), ("assistant", "a first sentence."))
    ending = TurnEnding("output_blocked", "output blocked by policy")
    await history.append_turns("alice", "c1", exchange, ending=ending)
    await history.append_turns("alice", "c1", (("user", "q2"), ("assistant", "whole")))
    turns = (await history.get("alice", "c1")).turns
    assert [(t.role, t.outcome, t.detail) for t in turns] == [
        ("user", "", ""),
        ("assistant", "output_blocked", "output blocked by policy"),
        ("user", "", ""),
        ("assistant", "", ""),  # none given, as for turns stored before it was kept
    ]
    # The model's history is text only.
    assert await history.history("alice", "c1") == tuple(
        ChatMessage(role, text)
        for role, text in (*exchange, ("user", "q2"), ("assistant", "whole"))
    )


async def test_list_is_per_owner_and_newest_first() -> None:
    history, _, clock = make()
    await history.append("alice", "older", "user", "a")
    clock.now += 10
    await history.append("alice", "newer", "user", "b")
    await history.append("alice", "newer", "assistant", "c")
    await history.append("bob", "bobs", "user", "x")
    summaries = await history.list("alice")
    assert [(s.conversation_id, s.turn_count) for s in summaries] == [("newer", 2), ("older", 1)]
    assert summaries[0].updated_at_unix == 1_700_000_010
    assert [s.conversation_id for s in await history.list("bob")] == ["bobs"]


async def test_a_short_listing_holds_the_latest_updates_not_the_latest_creations() -> None:
    # The index is in creation order; a page of two must still be the two
    # conversations updated last (ListConversations with a page size).
    history, _, clock = make()
    for conversation_id in ("a", "b", "c"):
        await history.append("alice", conversation_id, "user", "hi")
        clock.now += 10
    await history.append("alice", "a", "user", "again")
    assert [s.conversation_id for s in await history.list("alice")] == ["a", "c", "b"]
    assert [s.conversation_id for s in await history.list("alice", limit=2)] == ["a", "c"]
    assert [s.conversation_id for s in await history.list("alice", limit=1)] == ["a"]


async def test_foreign_conversation_is_not_found_and_not_touched() -> None:
    history, _, _ = make()
    await history.append("alice", "secret", "user", "my diary")
    with pytest.raises(NotFoundError):
        await history.get("mallory", "secret")
    with pytest.raises(NotFoundError):
        await history.delete("mallory", "secret")
    with pytest.raises(NotFoundError):  # chatting into it: NOT_FOUND, nothing read
        await history.history("mallory", "secret")
    with pytest.raises(NotFoundError):  # nor written
        await history.append("mallory", "secret", "user", "hello")
    assert [m.content for m in await history.history("alice", "secret")] == ["my diary"]


async def test_missing_and_deleted_conversations_are_not_found() -> None:
    history, _, _ = make()
    with pytest.raises(NotFoundError):
        await history.get("alice", "nope")
    await history.append("alice", "c", "user", "hi")
    await history.delete("alice", "c")
    with pytest.raises(NotFoundError):
        await history.get("alice", "c")
    assert await history.list("alice") == ()
    await history.append("alice", "c", "user", "again")  # the id can start over
    assert [s.conversation_id for s in await history.list("alice")] == ["c"]


async def test_rejects_bad_ids_and_roles() -> None:
    history, _, _ = make()
    with pytest.raises(InvalidArgumentError):
        await history.append("alice", "bad id/..", "user", "x")
    with pytest.raises(InvalidArgumentError):
        await history.append("alice", "ok", "tool", "x")


async def test_owner_names_cannot_escape_their_key_space() -> None:
    history, _, _ = make()
    await history.append("a}b{c", "c1", "user", "x")
    await history.append("a", "c2", "user", "y")
    assert [m.content for m in await history.history("a}b{c", "c1")] == ["x"]
    assert [m.content for m in await history.history("a", "c2")] == ["y"]
    with pytest.raises(NotFoundError):
        await history.history("a", "c1")


class CountingStore(MemoryStore):
    """The in-process store, counting the calls a history write makes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock=clock)
        self.calls: list[str] = []
        self.batches: list[list[str]] = []

    async def get(self, key: str) -> bytes | None:
        self.calls.append("get")
        return await super().get(key)

    async def set(
        self, key: str, value: bytes, *, ttl_ms: int | None = None, nx: bool = False
    ) -> bool:
        self.calls.append("set")
        return await super().set(key, value, ttl_ms=ttl_ms, nx=nx)

    async def batch(self, ops: Sequence[StoreOp]) -> list[object]:
        self.batches.append([type(op).__name__ for op in ops])
        return await super().batch(ops)


async def test_an_exchange_is_written_with_one_claim_and_one_metadata_write() -> None:
    store = CountingStore()
    history = ConversationHistory(store, max_turns=10, ttl_s=3600, clock=Clock())
    await history.append("alice", "c1", "user", "first")
    store.calls.clear()
    store.batches.clear()
    await history.append_turns("alice", "c1", (("user", "q"), ("assistant", "a")))
    # claim (taken), meta, the claim's owner; then the claim (NX) and its expiry
    # extended, turns, meta, its rank in the owner's listing
    assert store.calls == ["set", "get", "get", "set", "set"]
    assert store.batches == [
        ["SetOp", "GetOp", "GetOp"],
        ["SetOp", "ExpireOp", "PushOp", "SetOp", "RankOp"],
    ]
    store.batches.clear()
    assert [m.content for m in await history.history("alice", "c1")] == ["first", "q", "a"]
    assert store.batches == [["GetOp", "GetOp", "RangeOp"]]  # claim, meta, turns


async def test_a_new_conversation_is_indexed_and_its_claim_not_rewritten() -> None:
    store = CountingStore()
    history = ConversationHistory(store, max_turns=10, ttl_s=3600, clock=Clock())
    await history.append_turns("alice", "c1", (("user", "q"), ("assistant", "a")))
    # The NX claim took: no second claim write; the new id joins the owner's index.
    assert store.batches[1] == ["PushOp", "SetOp", "RankOp"]
    assert [s.conversation_id for s in await history.list("alice")] == ["c1"]


async def test_a_bad_role_anywhere_writes_nothing() -> None:
    history, _, _ = make()
    with pytest.raises(InvalidArgumentError):
        await history.append_turns("alice", "c9", (("user", "q"), ("robot", "a")))
    assert await history.history("alice", "c9") == ()
    await history.append("bob", "c9", "user", "still unclaimed")  # alice never claimed it


async def test_an_active_conversation_keeps_its_claim_past_the_first_turns_ttl() -> None:
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    history = ConversationHistory(store, max_turns=10, ttl_s=100, clock=lambda: now[0])
    await history.append("alice", "c1", "user", "first")
    now[0] = 60
    await history.append("alice", "c1", "user", "second")  # alive until 160 now
    now[0] = 110  # past the first turn's TTL, inside the conversation's
    with pytest.raises(NotFoundError):
        await history.append("mallory", "c1", "user", "mine now?")
    assert [m.content for m in await history.history("alice", "c1")] == ["first", "second"]


async def test_an_active_conversation_stays_listed_past_the_first_turns_ttl() -> None:
    # The index got its TTL when the conversation was created and never again: a
    # conversation continued all along left ListConversations for good TTL after
    # its first turn, while GetConversation still returned every turn.
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    history = ConversationHistory(store, max_turns=10, ttl_s=60, clock=lambda: now[0])
    await history.append("alice", "c1", "user", "first")
    for at in (30, 55):
        now[0] = at
        await history.append("alice", "c1", "user", "again")
    now[0] = 68  # past the first turn's TTL, inside the last one's
    assert [s.conversation_id for s in await history.list("alice")] == ["c1"]
    assert len((await history.get("alice", "c1")).turns) == 3


async def test_a_listing_page_skips_conversations_whose_metadata_is_gone_and_reads_on() -> None:
    # Left in the index with no metadata: evicted from memory, deleted while the
    # index was elsewhere. The page is filled from further down.
    history, store, clock = make()
    for i in range(12):
        clock.now += 1
        await history.append("alice", f"c{i}", "user", "x" * (i % 3 + 1))
    for gone in ("c11", "c9", "c8"):  # among the newest: the first read comes up short
        await store.delete(f"nova:conv:{{alice}}:{gone}:meta", f"nova:conv:{{alice}}:{gone}:turns")
    listed = await history.list("alice", limit=4)
    assert [s.conversation_id for s in listed] == ["c10", "c7", "c6", "c5"]
    assert all(s.turn_count == 1 for s in listed)
    everything = await history.list("alice", limit=100)
    assert [s.conversation_id for s in everything] == [f"c{i}" for i in (10, *range(7, -1, -1))]


async def test_a_deleted_conversation_leaves_the_index() -> None:
    clock = Clock()
    store = CountingStore(clock=clock)
    history = ConversationHistory(store, max_turns=4, ttl_s=3600, clock=clock)
    for conversation_id in ("a", "b", "c"):
        clock.now += 1
        await history.append("alice", conversation_id, "user", "hi")
    await history.delete("alice", "c")
    assert await store.ranked_top("nova:conv:{alice}:recent", 10) == [b"b", b"a"]
    store.batches.clear()
    assert [s.conversation_id for s in await history.list("alice", limit=1)] == ["b"]
    assert store.batches == [["TopOp", "LenOp"], ["GetOp", "LenOp", "GetOp"]]  # no second look


async def test_an_old_conversation_with_a_new_turn_moves_to_the_top() -> None:
    history, _, clock = make()
    for i in range(50):
        clock.now += 1
        await history.append("alice", f"c{i}", "user", "hi")
    clock.now += 1
    await history.append("alice", "c0", "assistant", "still here")
    listed = await history.list("alice", limit=3)
    assert [(s.conversation_id, s.turn_count) for s in listed] == [
        ("c0", 2), ("c49", 1), ("c48", 1),
    ]  # fmt: skip
    assert listed[0].updated_at_unix == int(clock.now)


async def test_conversations_updated_in_the_same_millisecond_list_by_id_descending() -> None:
    history, _, clock = make()
    for conversation_id in ("b", "c", "a"):
        await history.append("alice", conversation_id, "user", "hi")
    clock.now += 0.0005  # the same millisecond still
    await history.append("alice", "a", "user", "again")
    assert [s.conversation_id for s in await history.list("alice")] == ["c", "b", "a"]
    clock.now += 0.001
    await history.append("alice", "a", "user", "later")
    assert [s.conversation_id for s in await history.list("alice")] == ["a", "c", "b"]


async def test_a_page_reads_the_metadata_of_its_own_conversations_only() -> None:
    # ListConversations read every indexed conversation (up to 1,000), whatever
    # the page size: one user listing in a loop slowed everyone on that Redis.
    store = CountingStore()
    clock = Clock()
    history = ConversationHistory(store, max_turns=4, ttl_s=3600, clock=clock)
    for i in range(500):
        clock.now += 0.01
        await history.append("alice", f"c{i}", "user", "hi")
    store.batches.clear()
    listed = await history.list("alice", limit=10)
    assert [s.conversation_id for s in listed] == [f"c{i}" for i in range(499, 489, -1)]
    reads = [op for batch in store.batches for op in batch]
    assert reads.count("GetOp") == 10 + 10 and len(store.batches) == 2  # metadata, claims
    store.batches.clear()
    assert len(await history.list("alice", limit=100)) == 100
    assert [op for batch in store.batches for op in batch].count("GetOp") == 100 + 100


async def test_conversations_past_their_ttl_are_not_read() -> None:
    clock = Clock()
    store = CountingStore(clock=clock)
    history = ConversationHistory(store, max_turns=4, ttl_s=100, clock=clock)
    for i in range(10):
        await history.append("alice", f"old{i}", "user", "hi")
    clock.now += 60
    await history.append("alice", "recent", "user", "hi")  # the index's TTL starts again
    clock.now += 50  # the ten old ones have expired, their places in the index not
    store.batches.clear()
    assert [s.conversation_id for s in await history.list("alice")] == ["recent"]
    assert store.batches == [["TopOp", "LenOp"], ["GetOp", "LenOp", "GetOp"]]


async def test_a_write_restores_its_owners_claim_where_the_store_lost_it() -> None:
    # The claim can be gone by the time the second batch lands: expired between
    # the batches, or never copied back after an outage. The write puts it back
    # (NX: it never takes over another owner's claim).
    history, store, _ = make()
    await history.append("alice", "c1", "user", "first")
    claim = "nova:convowner:{c1}"
    original = store.batch

    async def claim_lost_between_batches(ops: Sequence[StoreOp]) -> list[object]:
        results = await original(ops)
        if len(ops) == 3:  # the first batch saw alice's claim; now it expires
            await store.delete(claim)
        return results

    store.batch = claim_lost_between_batches  # type: ignore[method-assign]
    await history.append("alice", "c1", "user", "second")
    assert await store.get(claim) == b"alice"
    store.batch = original  # type: ignore[method-assign]
    with pytest.raises(NotFoundError):
        await history.append("bob", "c1", "user", "mine now?")
    assert [m.content for m in await history.history("alice", "c1")] == ["first", "second"]


async def test_a_made_up_id_is_written_in_one_batch_and_continued_in_one_each() -> None:
    store = CountingStore()
    clock = Clock()
    history = ConversationHistory(store, max_turns=10, ttl_s=3600, clock=clock)
    exchange = (("user", "q"), ("assistant", "a"))
    await history.append_turns("alice", "c1", exchange, opened=OpenedTurn.fresh())
    # the claim (NX) and its expiry, turns, meta, the owner's index: no read at all
    assert store.batches == [["SetOp", "ExpireOp", "PushOp", "SetOp", "RankOp"]]
    assert await store.get("nova:convowner:{c1}") == b"alice"
    created = clock.now
    clock.now += 50
    store.batches.clear()
    opened = await history.open_turn("alice", "c1")
    assert store.batches == [["GetOp", "GetOp", "RangeOp"]]  # claim, meta, turns
    messages = (ChatMessage("user", "q"), ChatMessage("assistant", "a"))
    assert opened == OpenedTurn(messages, int(created), ours=True)
    store.batches.clear()
    await history.append_turns("alice", "c1", (("user", "q2"),), opened=opened)
    # ranked again, in the same batch: now the most recently updated
    assert store.batches == [["SetOp", "ExpireOp", "PushOp", "SetOp", "RankOp"]]
    [summary] = await history.list("alice")
    assert summary.turn_count == 3 and summary.updated_at_unix == int(clock.now)
    meta = json.loads(await store.get("nova:conv:{alice}:c1:meta") or b"{}")
    assert meta["created"] == int(created)  # kept from the first write


async def test_opening_a_named_id_writes_nothing_and_its_first_write_checks_the_claim() -> None:
    # A request refused after its read (limits, an ack request) leaves no trace,
    # and a new id the client named is claimed at the write, checked as ever.
    store = CountingStore()
    history = ConversationHistory(store, max_turns=10, ttl_s=3600, clock=Clock())
    opened = await history.open_turn("alice", "named")
    assert opened == OpenedTurn((), None, ours=False)
    assert "set" not in store.calls and store.batches == [["GetOp", "GetOp", "RangeOp"]]
    await history.append("bob", "named", "user", "bob was first to write")
    store.batches.clear()
    with pytest.raises(NotFoundError):
        await history.append_turns("alice", "named", (("user", "q"),), opened=opened)
    assert store.batches == [["SetOp", "GetOp", "GetOp"]]  # the claim check; no writes
    assert [m.content for m in await history.history("bob", "named")] == ["bob was first to write"]
    with pytest.raises(NotFoundError):
        await history.open_turn("alice", "named")


@pytest.mark.parametrize("conversation_id", ["a.b", "..", "x" * 129, "", "a b", "abc\n"])
async def test_every_rpc_refuses_the_ids_chat_refuses(conversation_id: str) -> None:
    # Chat refuses these ids (INVALID_ARGUMENT); Get and Delete said NOT_FOUND
    # for the dotted ones: one rule now serves both.
    history, _, _ = make()
    with pytest.raises(InvalidArgumentError):
        await history.get("alice", conversation_id)
    if conversation_id:
        with pytest.raises(InvalidArgumentError):
            validate(ChatInput(message="hi", conversation_id=conversation_id), ChatLimits())


async def test_a_foreign_id_and_an_unused_one_read_alike() -> None:
    # GET on another user's id said "conversation 'x' not found" and on an unused id
    # "conversation not found": the text told the two apart.
    history, _, _ = make()
    await history.append("alice", "taken", "user", "hi")
    texts = []
    for conversation_id in ("taken", "unused"):
        for call in (history.get, history.delete):
            with pytest.raises(NotFoundError) as err:
                await call("mallory", conversation_id)
            texts.append(str(err.value).replace(conversation_id, "<id>"))
    assert len(set(texts)) == 1, texts


async def test_a_listing_moves_an_earlier_releases_index_into_the_ranked_one() -> None:
    # Earlier releases listed an owner's ids in a list under ``:index``, pushed once
    # at creation; a Redis upgraded in place still holds it.
    clock = Clock()
    store = CountingStore(clock=clock)
    history = ConversationHistory(store, max_turns=4, ttl_s=3600, clock=clock)
    recent, legacy = "nova:conv:{alice}:recent", "nova:conv:{alice}:index"
    for conversation_id in ("gone", "a", "b", "c"):
        clock.now += 10
        await history.append("alice", conversation_id, "user", "hi")
        await store.list_push(legacy, conversation_id.encode(), max_len=1000, ttl_ms=3_600_000)
    await store.delete("nova:conv:{alice}:gone:meta")  # expired since
    await store.delete(recent)  # as the earlier release left things
    clock.now += 10.2
    await history.append("alice", "d", "user", "new since the upgrade")
    clock.now += 0.5  # the same second, later: ranked above d, listed as updated alike
    await history.append("alice", "a", "user", "and again")
    store.batches.clear()
    listed = await history.list("alice")
    assert [(s.conversation_id, s.turn_count) for s in listed] == [
        ("a", 2), ("d", 1), ("c", 1), ("b", 1),
    ]  # fmt: skip
    assert await store.list_len(legacy) == 0  # moved, then deleted
    assert await store.ranked_top(recent, 10) == [b"a", b"d", b"c", b"b"]
    store.batches.clear()
    assert await history.list("alice") == listed
    assert store.batches == [["TopOp", "LenOp"], ["GetOp", "LenOp", "GetOp"] * 4]  # once only
    await history.append("alice", "b", "user", "written after the move")
    assert [s.conversation_id for s in await history.list("alice", limit=2)] == ["b", "a"]


class Outages:
    """A ``StoreFallback`` the test switches: on memory or not, and which outage."""

    def __init__(self) -> None:
        self.primary_available = True
        self.recoveries = 0


async def test_an_outage_answers_only_what_memory_holds_whole() -> None:
    # Memory as the failover uses it: emptied when an outage ends, so a read made
    # in one outage says nothing about what memory holds in the next.
    store, outages = MemoryStore(), Outages()
    history = ConversationHistory(store, max_turns=10, ttl_s=3600, fallback=outages)
    exchange = (("user", "q"), ("assistant", "a"))
    outages.primary_available = False  # outage 0: memory holds what is written since
    await history.append_turns("alice", "new", exchange, opened=OpenedTurn.fresh())
    opened = await history.open_turn("alice", "new")
    assert (len(opened.messages), opened.outage) == (2, 0)
    with pytest.raises(HistoryUnavailableError):  # it may be someone's in Redis
        await history.open_turn("alice", "named-by-the-client")
    outages.primary_available, outages.recoveries = True, 1  # back, copied, emptied
    store.clear()
    outages.primary_available = False  # outage 1, before the request's write
    await history.append_turns("alice", "new", exchange, opened=opened)
    with pytest.raises(HistoryUnavailableError):  # memory holds this exchange only
        await history.open_turn("alice", "new")
    outages.primary_available = True
    assert len(await history.history("alice", "new")) == 2  # what memory has, as Redis would


@pytest.mark.parametrize("value", ["1", "3", "21", "0", "1002"])
def test_an_odd_or_zero_max_turns_stops_start_up_naming_the_variable(value: str) -> None:
    # The trim counts turns: at 3 the model was sent an answer whose question was
    # dropped, and at 1 only the previous answer, never the user's earlier turns
    # (which the shield must see).
    with pytest.raises(ConfigError, match=r"^invalid configuration: CONVERSATION_MAX_TURNS: "):
        load_settings({"REQUIRE_AUTH": "false", "CONVERSATION_MAX_TURNS": value})
    assert load_settings({"REQUIRE_AUTH": "false", "CONVERSATION_MAX_TURNS": "2"})
