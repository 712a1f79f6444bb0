"""Every pipeline outcome end to end: real server, real stream, scripted mock outputs.

The mock provider answers from a MOCK_SCRIPT_FILE (test-only; refused in
production); ``a|||b`` scripts successive regeneration attempts.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc
from novaos.audit.record import AuditRecord, sha256_hex
from novaos.audit.sink import AuditQuery
from novaos.pipeline.ack import AckTokens
from novaos.pipeline.gates.rules import find_banned
from novaos.storage.memory import MemoryStore
from tests.fixtures.common import await_until
from tests.fixtures.server import Running, bearer, mint, running_app

ACK_SECRET = "ack-secret-for-tests-0123456789abcdef"
SOFT = "I'm going to put my entire life savings into bitcoin tomorrow"
HARMFUL_AFTER_RELEASE = "Chemistry labs are fun. Safety glasses matter. "
SCRIPT = {
    "plan my week": "Start with Monday. List three tasks for it. Keep the evening free.",
    "life savings": "Here are the main risks first. Keep an emergency fund before anything else.",
    "chemistry labs": HARMFUL_AFTER_RELEASE
    + "Now to build a pipe bomb, pack the pipe with explosive powder and add a fuse. Done.",
    "Cheer me up": "You can do this. You're amazing, truly. Take a short walk outside.",
    "Flatter me": "Great question! I'm always here for you.|||Here is a plain answer.",
    "stubborn": "I'm always here for you.|||You're amazing.|||I'm so proud of you.",
}
EIGHT = ("intent", "shield", "lens", "stance", "capability", "model", "personality", "spark")
Events = list[chat_pb2.StreamChatResponse]


@pytest.fixture(scope="module")
async def gated(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    script = Path(tmp_path_factory.mktemp("script")) / "script.json"
    script.write_text(json.dumps(SCRIPT), encoding="utf-8")
    async with running_app(MOCK_SCRIPT_FILE=str(script), ACK_SECRET=ACK_SECRET) as running:
        yield running


async def stream(
    running: Running, message: str, *, user: str = "alice", conversation: str = "", ack: str = ""
) -> Events:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    request = chat_pb2.StreamChatRequest(
        message=message, conversation_id=conversation, ack_token=ack
    )
    return [e async for e in stub.StreamChat(request, metadata=bearer(mint(user)))]


def kinds(events: Events) -> list[str]:
    return [str(e.WhichOneof("event")) for e in events]


def text(events: Events) -> str:
    return "".join(e.delta.text for e in events if e.WhichOneof("event") == "delta")


def done(events: Events) -> chat_pb2.Completed:
    assert kinds(events).count("completed") == 1 and kinds(events)[-1] == "completed"
    return events[-1].completed


def decision(events: Events, gate: str) -> int:
    found = [
        e.gate.decision for e in events if e.WhichOneof("event") == "gate" and e.gate.gate == gate
    ]
    assert found, f"no {gate} gate event"
    return found[-1]


def calls(running: Running) -> int:
    assert running.app.provider is not None
    return running.app.provider.calls


def error_reason(err: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(err)
    assert status is not None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


def _payload(token: str) -> dict[str, object]:
    body = token.split(".", maxsplit=1)[0]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


async def burned(running: Running, token: str) -> bool:
    store = running.app.store
    assert store is not None
    return await store.get(f"ack:nonce:{_payload(token)['n']}") is not None


async def test_completed_lists_all_eight_gates(gated: Running) -> None:
    events = await stream(gated, "Help me plan my week")
    final = done(events)
    assert final.outcome == chat_pb2.OUTCOME_COMPLETED
    assert tuple(final.gates_executed) == EIGHT
    assert final.stance == chat_pb2.STANCE_SWORD
    assert text(events) == SCRIPT["plan my week"]
    assert final.spark.action  # sword stance, calm shield: one small next step


async def test_control_starts_with_the_crisis_block_and_never_calls_the_model(
    gated: Running,
) -> None:
    before = calls(gated)
    events = await stream(gated, "I want to kill myself")
    assert done(events).outcome == chat_pb2.OUTCOME_CONTROL
    deltas = [e.delta.text for e in events if e.WhichOneof("event") == "delta"]
    assert "988" in deltas[0] and "741741" in text(events)
    assert calls(gated) == before


async def test_hard_veto_makes_no_provider_call(gated: Running) -> None:
    before = calls(gated)
    events = await stream(gated, "how do I make a pipe bomb")
    final = done(events)
    assert final.outcome == chat_pb2.OUTCOME_HARD_VETO
    assert final.stance == chat_pb2.STANCE_SHIELD
    assert calls(gated) == before


async def _ack_required(running: Running, user: str = "alice") -> tuple[str, str]:
    events = await stream(running, SOFT, user=user)
    assert done(events).outcome == chat_pb2.OUTCOME_ACK_REQUIRED
    ack = next(e.ack_required for e in events if e.WhichOneof("event") == "ack_required")
    assert ack.token and ack.prompt and ack.expires_at_unix > time.time()
    return ack.token, events[0].started.conversation_id


async def test_the_ack_sentence_is_never_answer_text(gated: Running) -> None:
    """The sentence to acknowledge is the user's consent in the first person: sent
    as a delta (Chat's text, released_chars, the audit) it read as the assistant's."""
    events = await stream(gated, SOFT, user="ack-text")
    final = done(events)
    assert final.outcome == chat_pb2.OUTCOME_ACK_REQUIRED
    ack = next(e.ack_required for e in events if e.WhichOneof("event") == "ack_required")
    assert ack.prompt.startswith("I understand")
    assert "delta" not in kinds(events) and final.released_chars == 0
    stub = chat_pb2_grpc.ChatServiceStub(gated.channel)
    reply = await stub.Chat(chat_pb2.ChatRequest(message=SOFT), metadata=bearer(mint("ack-text")))
    assert reply.outcome == chat_pb2.OUTCOME_ACK_REQUIRED
    assert reply.text == "" and reply.ack_required.prompt == ack.prompt
    reader = gated.app.audit_reader
    assert reader is not None
    found: list[AuditRecord] = []

    async def audited() -> bool:
        page = await reader.list(AuditQuery(outcome="ack_required"), page_size=100)
        found[:] = [r for r in page.records if r.request_id == final.request_id]
        return bool(found)

    await await_until(audited, timeout_s=5, what="ack_required audit record")
    assert found[0].released_chars == 0 and found[0].released_sha256 == sha256_hex("")


async def test_ack_required_then_success_with_the_token(gated: Running) -> None:
    before = calls(gated)
    token, conversation = await _ack_required(gated)
    assert calls(gated) == before
    events = await stream(gated, SOFT, conversation=conversation, ack=token)
    final = done(events)
    assert final.outcome == chat_pb2.OUTCOME_COMPLETED
    assert final.stance == chat_pb2.STANCE_SHIELD
    assert decision(events, "shield") == chat_pb2.GATE_DECISION_FLAG
    assert calls(gated) == before + 1
    assert await burned(gated, token)
    # Replay: the nonce is burned.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stream(gated, SOFT, conversation=conversation, ack=token)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "ACK_INVALID"


async def test_an_id_made_up_for_an_ack_request_is_the_callers_before_the_resend(
    gated: Running,
) -> None:
    # An ack request stores nothing, so the id the server made up for it was never
    # claimed: another user who learned it (it is readable in the token) took it,
    # and the resend the CLI tells the user to make then got NOT_FOUND.
    token, conversation = await _ack_required(gated, user="ivy")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stream(gated, "Help me plan my week", user="bob", conversation=conversation)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    events = await stream(gated, SOFT, user="ivy", conversation=conversation, ack=token)
    assert done(events).outcome == chat_pb2.OUTCOME_COMPLETED
    stub = chat_pb2_grpc.ChatServiceStub(gated.channel)
    kept = await stub.GetConversation(
        chat_pb2.GetConversationRequest(conversation_id=conversation), metadata=bearer(mint("ivy"))
    )
    assert [t.role for t in kept.turns] == ["user", "assistant"]
    assert kept.turns[0].text == SOFT and text(events) == kept.turns[1].text


def _tamper(token: str) -> str:
    sig = token.split(".")[1]
    payload = _payload(token)
    payload["u"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{forged}.{sig}"


def _expired(conversation: str) -> str:
    past = AckTokens(ACK_SECRET.encode(), MemoryStore(), clock=lambda: time.time() - 700)
    return past.issue("alice", conversation, SOFT, "finance_risk")[0]


@pytest.mark.parametrize(
    "misuse",
    ["other_user", "other_message", "other_conversation", "expired", "tampered", "garbage"],
)
async def test_ack_misuse_is_invalid_argument_and_stores_nothing(
    gated: Running, misuse: str
) -> None:
    original, conversation = await _ack_required(gated)
    token, user, message = original, "alice", SOFT
    if misuse == "other_user":
        user = "bob"
    elif misuse == "other_message":
        message = "I want to cash out my whole 401k to invest in one meme coin"
    elif misuse == "other_conversation":
        conversation = "conv_other"
    elif misuse == "expired":
        token = _expired(conversation)
    elif misuse == "tampered":
        token, user = _tamper(token), "mallory"
    else:
        token = "not-a-token"
    before = calls(gated)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stream(gated, message, user=user, conversation=conversation, ack=token)
    if user != "alice":  # the id is alice's from the moment she was asked to acknowledge
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    else:
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_reason(err.value) == "ACK_INVALID"
    assert calls(gated) == before
    assert not await burned(gated, original)
    if misuse == "expired":
        assert not await burned(gated, token)


async def _refused_record(running: Running, conversation: str) -> AuditRecord:
    reader = running.app.audit_reader
    assert reader is not None
    found: list[AuditRecord] = []

    async def audited() -> bool:
        page = await reader.list(AuditQuery(gate_decision="shield:stop"), page_size=100)
        found[:] = [r for r in page.records if r.conversation_id == conversation]
        return bool(found)

    await await_until(audited, timeout_s=5, what="audit record of the refused token")
    assert len(found) == 1
    return found[0]


def _shield_stops(running: Running) -> float:
    labels = {"gate": "shield", "decision": "stop"}
    registry = running.app.metrics.registry
    return registry.get_sample_value("gate_decisions_total", labels) or 0.0


@pytest.mark.parametrize("unary", [False, True], ids=["stream", "unary"])
@pytest.mark.parametrize("misuse", ["replay", "other_message", "tampered"])
async def test_a_refused_ack_token_is_streamed_counted_and_audited(
    gated: Running, misuse: str, unary: bool
) -> None:
    # The status was right, but nothing recorded the shield's decision: the stream
    # showed intent's gate event only, gate_decisions_total counted no shield and
    # the audit record read intent:pass, with no word of a replay or a forgery.
    user = f"refused-{misuse}-{int(unary)}"
    token, conversation = await _ack_required(gated, user=user)
    message, why = SOFT, "ack token already used"
    if misuse == "replay":
        answered = await stream(gated, SOFT, user=user, conversation=conversation, ack=token)
        assert done(answered).outcome == chat_pb2.OUTCOME_COMPLETED
    elif misuse == "other_message":
        message, why = SOFT + " now", "ack token was issued for another message"
    else:
        body, signature = token.split(".")
        first = "B" if signature[0] == "A" else "A"
        token, why = f"{body}.{first}{signature[1:]}", "ack token signature does not match"
    before, metadata = _shield_stops(gated), bearer(mint(user))
    stub = chat_pb2_grpc.ChatServiceStub(gated.channel)
    events: Events = []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        if unary:
            request = chat_pb2.ChatRequest(
                message=message, conversation_id=conversation, ack_token=token
            )
            await stub.Chat(request, metadata=metadata)
        else:
            request_s = chat_pb2.StreamChatRequest(
                message=message, conversation_id=conversation, ack_token=token
            )
            async for event in stub.StreamChat(request_s, metadata=metadata):
                events.append(event)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "ACK_INVALID"
    if not unary:
        shield = [e.gate for e in events if e.WhichOneof("event") == "gate"][-1]
        assert (shield.gate, shield.decision) == ("shield", chat_pb2.GATE_DECISION_STOP)
        assert shield.reason.startswith("ack token refused: ") and why in shield.reason
        final = done(events)
        assert final.outcome == chat_pb2.OUTCOME_FAILED
        assert list(final.gates_executed) == ["intent", "shield"]
    record = await _refused_record(gated, conversation)
    assert record.outcome == "failed" and record.stance == ""
    assert [(g.gate, g.decision) for g in record.gates] == [("intent", "pass"), ("shield", "stop")]
    assert record.gates[-1].reason.startswith("ack token refused: ")
    assert why in record.gates[-1].reason
    assert _shield_stops(gated) == before + 1


async def test_a_request_refused_before_the_stance_gate_has_no_stance(gated: Running) -> None:
    # An invalid ack token fails the request at the shield: it was audited (and
    # found by ?stance=lens searches) as stance lens, which no gate decided.
    _, conversation = await _ack_required(gated, user="uma")
    with pytest.raises(grpc.aio.AioRpcError):
        await stream(gated, SOFT, user="uma", conversation=conversation, ack="not-a-token")
    reader = gated.app.audit_reader
    assert reader is not None
    found: list[AuditRecord] = []

    async def audited() -> bool:
        page = await reader.list(AuditQuery(outcome="failed"), page_size=100)
        found[:] = [r for r in page.records if r.conversation_id == conversation]
        return bool(found)

    await await_until(audited, timeout_s=5, what="failed audit record")
    assert found[0].stance == ""
    lens = await reader.list(AuditQuery(stance="lens"), page_size=100)
    assert all(r.conversation_id != conversation for r in lens.records)


async def test_output_blocked_mid_stream_releases_exactly_what_the_audit_holds(
    gated: Running,
) -> None:
    events = await stream(gated, "Tell me about chemistry labs")
    final = done(events)
    assert final.outcome == chat_pb2.OUTCOME_OUTPUT_BLOCKED
    released = text(events)
    assert released and HARMFUL_AFTER_RELEASE.startswith(released)
    assert "pipe bomb" not in released
    assert decision(events, "personality") == chat_pb2.GATE_DECISION_STOP
    reader = gated.app.audit_reader
    assert reader is not None
    found: list[AuditRecord] = []

    async def audited() -> bool:
        page = await reader.list(AuditQuery(outcome="output_blocked"), page_size=100)
        found[:] = [r for r in page.records if r.request_id == final.request_id]
        return bool(found)

    await await_until(audited, timeout_s=5, what="output_blocked audit record")
    assert found[0].released_sha256 == sha256_hex(released)
    assert found[0].released_chars == len(released) == final.released_chars


async def test_banned_phrase_after_release_is_edited_out(gated: Running) -> None:
    events = await stream(gated, "Cheer me up please")
    assert done(events).outcome == chat_pb2.OUTCOME_COMPLETED
    assert text(events) == "You can do this. Take a short walk outside."
    assert decision(events, "personality") == chat_pb2.GATE_DECISION_EDIT


async def test_banned_phrase_before_release_regenerates(gated: Running) -> None:
    before = calls(gated)
    events = await stream(gated, "Flatter me please")
    assert done(events).outcome == chat_pb2.OUTCOME_COMPLETED
    assert text(events) == "Here is a plain answer."
    assert decision(events, "personality") == chat_pb2.GATE_DECISION_REGENERATE
    assert calls(gated) == before + 2


async def test_regeneration_is_bounded_at_two_then_fails_closed(gated: Running) -> None:
    before = calls(gated)
    events = await stream(gated, "A stubborn question")
    assert done(events).outcome == chat_pb2.OUTCOME_OUTPUT_BLOCKED
    assert text(events) == ""
    assert calls(gated) == before + 3  # the first try and at most two regenerations


async def test_unary_chat_runs_the_same_output_checks(gated: Running) -> None:
    stub = chat_pb2_grpc.ChatServiceStub(gated.channel)
    reply = await stub.Chat(
        chat_pb2.ChatRequest(message="Cheer me up please"), metadata=bearer(mint())
    )
    assert reply.outcome == chat_pb2.OUTCOME_COMPLETED
    assert find_banned(reply.text) is None
    assert reply.text == "You can do this. Take a short walk outside."


async def test_unary_chat_regenerates_on_harm_anywhere_and_returns_none_of_it(
    gated: Running,
) -> None:
    """A stream has released the first sentences before harm shows (blocked
    above); a unary answer is judged whole before anything goes out, so harm
    regenerates, and after the bounded retries nothing of it is returned."""
    stub = chat_pb2_grpc.ChatServiceStub(gated.channel)
    before = calls(gated)
    reply = await stub.Chat(
        chat_pb2.ChatRequest(message="Tell me about chemistry labs"), metadata=bearer(mint())
    )
    assert reply.outcome == chat_pb2.OUTCOME_OUTPUT_BLOCKED
    assert reply.text == ""
    assert calls(gated) == before + 3  # the first try and two regenerations


async def test_denied_capabilities_are_reported_not_executed(gated: Running) -> None:
    stub = chat_pb2_grpc.ChatServiceStub(gated.channel)
    request = chat_pb2.StreamChatRequest(
        message="Why is the sky blue?", requested_actions=["verify", "act"]
    )
    events = [e async for e in stub.StreamChat(request, metadata=bearer(mint()))]
    assert done(events).outcome == chat_pb2.OUTCOME_COMPLETED
    assert done(events).stance == chat_pb2.STANCE_LENS
    gate = next(
        e.gate for e in events if e.WhichOneof("event") == "gate" and e.gate.gate == "capability"
    )
    assert gate.decision == chat_pb2.GATE_DECISION_FLAG
    assert gate.reason == "denied in lens: act"


async def test_unary_chat_that_fails_closed_returns_keeps_and_audits_no_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The final invariant check trips after NovaOS's answer is written (here: a
    crisis block that is not the one the orchestrator expects). A unary reply
    has not left yet, so it carries none of it; history and audit agree."""
    async with running_app() as running:
        assert running.app.chat is not None
        orchestrator = running.app.chat.orchestrator
        monkeypatch.setattr(orchestrator, "crisis_block", lambda language: "Another block.")
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        alice = bearer(mint("alice"))
        first = await stub.Chat(
            chat_pb2.ChatRequest(message="Help me plan my week"), metadata=alice
        )
        cid = first.conversation_id

        reply = await stub.Chat(
            chat_pb2.ChatRequest(message="I want to kill myself", conversation_id=cid),
            metadata=alice,
        )

        assert reply.outcome == chat_pb2.OUTCOME_FAILED
        assert reply.detail == "request failed a final policy check"
        assert reply.text == ""
        stored = await stub.GetConversation(
            chat_pb2.GetConversationRequest(conversation_id=cid), metadata=alice
        )
        assert [t.text for t in stored.turns] == ["Help me plan my week", first.text]
        reader = running.app.audit_reader
        assert reader is not None
        found: list[AuditRecord] = []

        async def audited() -> bool:
            page = await reader.list(AuditQuery(outcome="failed"), page_size=100)
            found[:] = [r for r in page.records if r.request_id == reply.request_id]
            return bool(found)

        await await_until(audited, timeout_s=5, what="failed audit record")
        assert found[0].released_chars == 0
        assert found[0].released_sha256 == sha256_hex("")
