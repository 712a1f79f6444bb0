"""A stream that breaks before any of its text was released fails over to the next
provider: real server, real router and adapters, two fake upstreams on loopback.

The pipeline holds text back until its sentence is whole and checked, so a provider
can break after sending half a sentence while the client has had nothing. Before,
that ended as OUTCOME_UPSTREAM_TRUNCATED with no text although the fallback could
answer; the router only fell back before the first chunk reached the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from generated.novaos.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    chat_pb2,
    chat_pb2_grpc,
    health_pb2,
    health_pb2_grpc,
)
from novaos.domain import Usage
from novaos.ports import ChatMessage
from novaos.tokens import estimate_tokens, estimate_usage, reservation
from tests.fixtures.charges import only_audit_record, settled_charge
from tests.fixtures.common import await_until, holds
from tests.fixtures.fake_providers import Cut, FakeProviderServer, Part, Reply, Stall, StartServer
from tests.fixtures.provider_wire import (
    anthropic_error,
    anthropic_error_event,
    anthropic_json,
    anthropic_stream,
    anthropic_thinking,
    openai_error,
    openai_json,
    openai_stream,
)
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.server import Running, bearer, mint, running_app

MESSAGE = "How should I plan my week?"
HALF = ["Start with a list ", "of tasks"]  # no sentence ends: all of it held back
BACKUP = ["Plan Monday first. ", "Keep Friday light."]
BACKUP_TOKENS = (20, 8)
ADMIN = bearer(mint("root", "pro", ("admin",)))


@dataclass
class Upstreams:
    openai: FakeProviderServer
    anthropic: FakeProviderServer

    def env(self, preferred: str, fallback: str, **extra: str) -> dict[str, str]:
        return {
            "PREFERRED_PROVIDER": preferred,
            "PROVIDER_FALLBACK_ORDER": fallback,
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": self.openai.url + "/v1",
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": self.anthropic.url + "/v1",
            "ANTHROPIC_MODEL": "claude-fake",
            "STREAM_IDLE_TIMEOUT_MS": "500",
            **extra,
        }


async def upstreams(fake_server: StartServer) -> Upstreams:
    return Upstreams(await fake_server(), await fake_server())


async def stream_chat(
    running: Running, conversation_id: str = ""
) -> tuple[list[chat_pb2.StreamChatResponse], grpc.aio.AioRpcError | None]:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    events: list[chat_pb2.StreamChatResponse] = []
    request = chat_pb2.StreamChatRequest(message=MESSAGE, conversation_id=conversation_id)
    try:
        async for event in stub.StreamChat(request, metadata=bearer(mint("failover"))):
            events.append(event)
    except grpc.aio.AioRpcError as err:
        return events, err
    return events, None


def released(events: list[chat_pb2.StreamChatResponse]) -> str:
    return "".join(e.delta.text for e in events if e.WhichOneof("event") == "delta")


def tokens(running: Running, provider: str, model: str) -> Usage:
    def count(kind: str) -> int:
        labels = {"provider": provider, "model": model, "kind": kind}
        value = running.app.metrics.registry.get_sample_value("llm_token_usage_total", labels)
        return int(value or 0)

    return Usage(count("input"), count("output"))


async def failures(running: Running) -> dict[str, int]:
    health = health_pb2_grpc.HealthServiceStub(running.channel)
    listed = await health.ListCircuits(health_pb2.ListCircuitsRequest())
    return {c.provider: c.consecutive_failures for c in listed.circuits}


# the first provider, what it sends before it breaks, and the cause the router names
BREAKS: dict[str, tuple[str, list[Part], str]] = {
    "openai-cut": ("openai", [*openai_stream(HALF, (9, 9))[:3], Cut()], "stream_cut"),
    "openai-stall": ("openai", [*openai_stream(HALF, (9, 9))[:3], Stall()], "stalled"),
    "anthropic-overloaded": (
        "anthropic",
        [*anthropic_stream(HALF, (9, 9))[:6], anthropic_error_event("Overloaded")],
        "error_event",
    ),
}
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-fake"}


@pytest.mark.parametrize("case", list(BREAKS))
async def test_a_break_before_any_text_was_released_is_answered_by_the_fallback(
    fake_server: StartServer, case: str
) -> None:
    first, parts, cause = BREAKS[case]
    second = "anthropic" if first == "openai" else "openai"
    ups = await upstreams(fake_server)
    broken, backup = (
        (ups.openai, ups.anthropic) if first == "openai" else (ups.anthropic, ups.openai)
    )
    broken.queue(Reply(body=parts))
    answer = (
        anthropic_stream(BACKUP, BACKUP_TOKENS)
        if second == "anthropic"
        else openai_stream(BACKUP, BACKUP_TOKENS)
    )
    backup.queue(Reply(body=answer))
    async with running_app(**ups.env(first, second)) as running:
        events, err = await stream_chat(running, conversation_id=f"failover-{case}")
        assert err is None, err
        # One clean answer: the fallback's, whole; nothing of the dropped half-sentence.
        assert released(events) == "".join(BACKUP)
        done = events[-1].completed
        assert (done.outcome, done.provider, done.model) == (
            chat_pb2.OUTCOME_COMPLETED,
            second,
            MODELS[second],
        )
        assert done.released_chars == len("".join(BACKUP))
        assert "failover" in done.gates_executed
        # No event before the terminal one names a provider: started, gates, text.
        kinds = [e.WhichOneof("event") for e in events[:-1]]
        assert set(kinds) <= {"started", "gate", "delta", "keepalive"}, kinds
        gates = [e.gate for e in events if e.WhichOneof("event") == "gate"]
        assert not [g for g in gates if first in g.reason or first in g.gate]
        sent = " ".join(m["content"] for m in backup.requests[0].json()["messages"])
        assert "list of tasks" not in sent, "the dropped text must not reach the fallback"

        # Charged: the dropped stream (estimated: it reported no output count) plus
        # the fallback's reported usage; each counted under its own provider.
        asked = tuple(
            ChatMessage(m["role"], m["content"]) for m in broken.requests[0].json()["messages"]
        )
        estimate = estimate_usage(asked, "".join(HALF))
        dropped = Usage(
            9 if first == "anthropic" else estimate.input_tokens, estimate.output_tokens
        )
        assert tokens(running, first, MODELS[first]) == dropped
        assert tokens(running, second, MODELS[second]) == Usage(*BACKUP_TOKENS)
        total = dropped + Usage(*BACKUP_TOKENS)
        assert (done.usage.input_tokens, done.usage.output_tokens) == (
            total.input_tokens,
            total.output_tokens,
        )
        assert await failures(running) == {first: 1, second: 0}, "one failure, counted once"

        record = await only_audit_record(running, timeout_s=5)
        assert (record.outcome, record.provider, record.model) == (
            "completed",
            second,
            MODELS[second],
        )
        assert (record.input_tokens, record.output_tokens) == (
            total.input_tokens,
            total.output_tokens,
        )
        assert record.released_chars == len("".join(BACKUP))
        flagged = [g for g in record.gates if g.gate == "failover"]
        assert [(g.decision, g.reason) for g in flagged] == [
            ("flag", f"{first}: {cause} before any text was released; retried")
        ]
        audit = audit_pb2_grpc.AuditServiceStub(running.channel)
        found = await audit.ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(gate_decision="failover:flag"), metadata=ADMIN
        )
        assert [e.request_id for e in found.events] == [record.request_id]

        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        kept = await stub.GetConversation(
            chat_pb2.GetConversationRequest(conversation_id=f"failover-{case}"),
            metadata=bearer(mint("failover")),
        )
        assert [t.text for t in kept.turns] == [MESSAGE, "".join(BACKUP)]


async def test_a_break_after_text_was_released_is_still_truncated(
    fake_server: StartServer,
) -> None:
    ups = await upstreams(fake_server)
    texts = ["Start with a list of tasks. ", "Then pick the three"]
    ups.openai.queue(Reply(body=[*openai_stream(texts, (9, 9))[:3], Cut()]))
    ups.anthropic.queue(Reply(body=anthropic_stream(BACKUP, BACKUP_TOKENS)))
    env = ups.env("openai", "anthropic", OUTPUT_HOLDBACK_CHARS="16")
    async with running_app(**env) as running:
        events, err = await stream_chat(running)
        assert err is not None and err.code() == grpc.StatusCode.UNAVAILABLE
        assert released(events) == texts[0], "never two answers spliced"
        done = events[-1].completed
        assert (done.outcome, done.provider) == (chat_pb2.OUTCOME_UPSTREAM_TRUNCATED, "openai")
        assert "failover" not in done.gates_executed
        assert ups.anthropic.requests == [], "no fallback once text went out"
        assert await failures(running) == {"openai": 1, "anthropic": 0}


async def test_a_call_cancelled_during_the_failover_frees_its_lease_and_pays_both(
    fake_server: StartServer, redis_url: str, redis_server: RedisServer
) -> None:
    ups = await upstreams(fake_server)
    ups.openai.queue(Reply(body=[*openai_stream(HALF, (9, 9))[:3], Cut()]))
    ups.anthropic.queue(Reply(body=[Stall()]))
    user = "cancelled-in-failover"
    env = ups.env("openai", "anthropic", REDIS_URL=redis_url, CONCURRENCY_LIMIT_FREE="1")
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        call = stub.StreamChat(
            chat_pb2.StreamChatRequest(message=MESSAGE), metadata=bearer(mint(user, "free"))
        )
        assert (await call.read()) is not grpc.aio.EOF  # started
        await await_until(lambda: holds(len(ups.anthropic.requests) == 1), what="the fallback")
        call.cancel()
        charged, record = await settled_charge(running, redis_server, user)
        assert (record.outcome, record.provider) == ("cancelled", "anthropic")
        counted = (
            tokens(running, "openai", "gpt-4o-mini"),
            tokens(running, "anthropic", "claude-fake"),
        )
    # The dropped stream (its prompt and the half sentence) and the fallback's prompt.
    asked = tuple(
        ChatMessage(m["role"], m["content"]) for m in ups.openai.requests[0].json()["messages"]
    )
    dropped = estimate_usage(asked, "".join(HALF))
    fallback = estimate_usage(asked, "")
    assert counted == (dropped, Usage(fallback.input_tokens, 0))
    total = dropped.input_tokens + dropped.output_tokens + fallback.input_tokens
    assert (charged, record.input_tokens + record.output_tokens) == (total, total)


def _all_say(total: Usage, reported: chat_pb2.Usage, audited: Usage, charged: int) -> None:
    """The client's usage, the audit record's and the tokens/min charge are ``total``."""
    assert (reported.input_tokens, reported.output_tokens) == (
        total.input_tokens,
        total.output_tokens,
    )
    assert audited == total
    assert charged == total.input_tokens + total.output_tokens


async def _settled(running: Running, redis: RedisServer, user: str) -> tuple[int, Usage]:
    """(tokens/min charge, audited usage) once the lease is released."""
    charged, record = await settled_charge(running, redis, user)
    return charged, Usage(record.input_tokens, record.output_tokens)


def _asked(upstream: FakeProviderServer) -> tuple[ChatMessage, ...]:
    """The messages of the request (OpenAI's wire keeps them as they were)."""
    return tuple(
        ChatMessage(m["role"], m["content"]) for m in upstream.requests[0].json()["messages"]
    )


async def test_unary_chat_falls_over_on_a_body_cut_half_way_and_charges_it(
    fake_server: StartServer, redis_url: str, redis_server: RedisServer
) -> None:
    # Unary Chat asks for one body, judged once it came whole: the router's
    # ordinary fallback covers a body cut half-way. The provider had accepted the
    # call and read the prompt (it was sending its answer): that attempt was
    # charged nothing, where a stream broken at the same point is charged.
    ups = await upstreams(fake_server)
    body = openai_json("Start with a list of tasks. Then pick three.", (9, 9))
    ups.openai.queue(Reply(body=[body[:40], Cut()], content_type="application/json"))
    ups.anthropic.queue(Reply(body=anthropic_json("".join(BACKUP), BACKUP_TOKENS)))
    user = "unary-failover"
    env = ups.env("openai", "anthropic", REDIS_URL=redis_url)
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint(user, "free"))
        reply = await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=who)
        assert (reply.outcome, reply.provider, reply.text) == (
            chat_pb2.OUTCOME_COMPLETED,
            "anthropic",
            "".join(BACKUP),
        )
        assert "failover" in reply.gates_executed, "the cut body was dropped, as a stream"
        assert await failures(running) == {"openai": 1, "anthropic": 0}
        charged, audited = await _settled(running, redis_server, user)
        dropped = estimate_usage(_asked(ups.openai), "")  # its prompt: no output arrived whole
        assert tokens(running, "openai", "gpt-4o-mini") == dropped
        assert tokens(running, "anthropic", "claude-fake") == Usage(*BACKUP_TOKENS)
        total = dropped + Usage(*BACKUP_TOKENS)
        _all_say(total, reply.usage, audited, charged)


@pytest.mark.parametrize("whole", [False, True], ids=["stream", "unary"])
async def test_a_call_every_provider_accepted_and_then_failed_is_charged_each_prompt(
    fake_server: StartServer, redis_url: str, redis_server: RedisServer, whole: bool
) -> None:
    # Both answered 200 and then failed before any text: OpenAI's body cut at
    # once, Anthropic's first event an overloaded_error (a unary body: cut). Each
    # read the prompt; neither was charged, on a stream or a unary call.
    ups = await upstreams(fake_server)
    kind = "application/json" if whole else "text/event-stream"
    ups.openai.queue(Reply(body=[Cut()], content_type=kind))
    second = [Cut()] if whole else [anthropic_error_event("Overloaded")]
    ups.anthropic.queue(Reply(body=second, content_type=kind))
    user = f"all-failed-{'unary' if whole else 'stream'}"
    env = ups.env("openai", "anthropic", REDIS_URL=redis_url)
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint(user, "free"))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            if whole:
                await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=who)
            else:
                async for _ in stub.StreamChat(
                    chat_pb2.StreamChatRequest(message=MESSAGE), metadata=who
                ):
                    pass
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert await failures(running) == {"openai": 1, "anthropic": 1}
        charged, audited = await _settled(running, redis_server, user)
        prompt = estimate_usage(_asked(ups.openai), "")
        assert tokens(running, "openai", "gpt-4o-mini") == prompt
        assert tokens(running, "anthropic", "claude-fake") == prompt
    assert audited == prompt + prompt
    assert charged == 2 * prompt.input_tokens


async def test_reasoning_dropped_by_a_failover_is_charged_under_the_reported_model(
    fake_server: StartServer, redis_url: str, redis_server: RedisServer
) -> None:
    # Anthropic reported its prompt and model (message_start), thought at length,
    # then sent overloaded_error: the fallback answered. The dropped reasoning and
    # prompt are charged (06b7143), and counted under the model Anthropic named,
    # as a cancel at the same point counts them, not its configured default.
    ups = await upstreams(fake_server)
    thought = "Weighing each day of the week in turn. " * 20
    start = anthropic_stream([], (500, 1), model="claude-reported")[0]
    ups.anthropic.queue(
        Reply(body=[start, *anthropic_thinking(thought), anthropic_error_event("Overloaded")])
    )
    ups.openai.queue(Reply(body=openai_stream(BACKUP, BACKUP_TOKENS)))
    user = "reasoning-failover"
    env = ups.env("anthropic", "openai", REDIS_URL=redis_url)
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        request = chat_pb2.StreamChatRequest(message=MESSAGE)
        events = [e async for e in stub.StreamChat(request, metadata=bearer(mint(user, "free")))]
        done = events[-1].completed
        assert (done.outcome, done.provider) == (chat_pb2.OUTCOME_COMPLETED, "openai")
        assert "failover" in done.gates_executed
        charged, audited = await _settled(running, redis_server, user)
        dropped = Usage(500, estimate_tokens(thought))
        assert tokens(running, "anthropic", "claude-reported") == dropped
        assert tokens(running, "anthropic", "claude-fake") == Usage()
        total = dropped + Usage(*BACKUP_TOKENS)
        _all_say(total, done.usage, audited, charged)


async def test_a_stall_right_after_the_200_is_listed_and_charged_as_a_cut(
    fake_server: StartServer, redis_url: str, redis_server: RedisServer
) -> None:
    # OpenAI answered 200 and sent nothing more until the idle timeout: it read the
    # prompt. The fallback answered, but the stall was not charged and the answer
    # did not list failover, where a cut at the same point did both.
    ups = await upstreams(fake_server)
    ups.openai.queue(Reply(body=[Stall()]))
    ups.anthropic.queue(Reply(body=anthropic_stream(BACKUP, BACKUP_TOKENS)))
    user = "stalled-at-once"
    env = ups.env("openai", "anthropic", REDIS_URL=redis_url)
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        request = chat_pb2.StreamChatRequest(message=MESSAGE)
        events = [e async for e in stub.StreamChat(request, metadata=bearer(mint(user, "free")))]
        done = events[-1].completed
        assert (done.outcome, done.provider) == (chat_pb2.OUTCOME_COMPLETED, "anthropic")
        assert "failover" in done.gates_executed
        charged, audited = await _settled(running, redis_server, user)
        record = await only_audit_record(running, timeout_s=5)
        flagged = [(g.decision, g.reason) for g in record.gates if g.gate == "failover"]
        assert flagged == [("flag", "openai: stalled before any text was released; retried")]
        dropped = estimate_usage(_asked(ups.openai), "")
        assert tokens(running, "openai", "gpt-4o-mini") == dropped
        _all_say(dropped + Usage(*BACKUP_TOKENS), done.usage, audited, charged)


# A free tier sized like the one that refused a failover as "can never be admitted":
# one model call's reservation (the prompt as sent plus max_tokens) fits it, two do not.
REPORT_TOKEN_LIMIT = 1100


async def stream_as(
    running: Running, user: str
) -> tuple[list[chat_pb2.StreamChatResponse], grpc.aio.AioRpcError | None]:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    events: list[chat_pb2.StreamChatResponse] = []
    call = stub.StreamChat(
        chat_pb2.StreamChatRequest(message=MESSAGE), metadata=bearer(mint(user, "free"))
    )
    try:
        async for event in call:
            events.append(event)
    except grpc.aio.AioRpcError as err:
        return events, err
    return events, None


def one_call(server: FakeProviderServer) -> int:
    """What one model call of the request reserves: the prompt as sent, plus max_tokens."""
    body = server.requests[0].json()
    asked = tuple(ChatMessage(m["role"], m["content"]) for m in body["messages"])
    if "system" in body:  # Anthropic sends the system prompt beside the messages
        asked = (ChatMessage("system", body["system"]), *asked)
    return reservation(asked, body.get("max_tokens") or body.get("max_completion_tokens"))


async def test_a_failover_reserves_only_what_the_dropped_stream_did_not_use(
    fake_server: StartServer, redis_url: str, redis_server: RedisServer
) -> None:
    """The dropped stream is charged what it used; what it had reserved beyond that
    is the next provider's. Before, the failover reserved a second whole call on top
    of the first and was refused as FAILED_PRECONDITION "it can never be admitted:
    shorten the message", though the same request asked again was answered."""
    ups = await upstreams(fake_server)
    ups.openai.queue(Reply(body=[*openai_stream(HALF, (9, 9))[:3], Cut()]))
    ups.anthropic.queue(Reply(body=anthropic_stream(BACKUP, BACKUP_TOKENS)))
    user = "failover-fits"
    env = ups.env("openai", "anthropic", REDIS_URL=redis_url)
    async with running_app(**env, TOKEN_LIMIT_FREE=str(REPORT_TOKEN_LIMIT)) as running:
        events, err = await stream_as(running, user)
        assert err is None, err
        done = events[-1].completed
        assert (done.outcome, done.provider) == (chat_pb2.OUTCOME_COMPLETED, "anthropic")
        assert released(events) == "".join(BACKUP)
        assert "failover" in done.gates_executed
        charged, record = await settled_charge(running, redis_server, user)
    assert one_call(ups.openai) <= REPORT_TOKEN_LIMIT < 2 * one_call(ups.openai)
    # The window holds what both streams used, as the audit and the event say.
    assert charged == record.input_tokens + record.output_tokens
    assert charged == done.usage.input_tokens + done.usage.output_tokens


async def test_a_failover_that_does_not_fit_the_window_is_a_rate_limit_to_retry(
    fake_server: StartServer, redis_url: str, redis_server: RedisServer
) -> None:
    """The dropped stream's charge (its provider counted a long prompt) plus the next
    call's reservation is more than the tier's whole limit: the request asked again
    fits, so that is RESOURCE_EXHAUSTED with a RetryInfo, not the precondition."""
    ups = await upstreams(fake_server)
    counted = 500  # the first provider's input count, well above the estimate
    ups.anthropic.queue(Reply(body=[*anthropic_stream(HALF, (counted, 9))[:6], Cut()]))
    ups.openai.queue(Reply(body=openai_stream(BACKUP, BACKUP_TOKENS)))
    user = "failover-over"
    env = ups.env("anthropic", "openai", REDIS_URL=redis_url)
    async with running_app(**env, TOKEN_LIMIT_FREE=str(REPORT_TOKEN_LIMIT)) as running:
        events, err = await stream_as(running, user)
        charged, record = await settled_charge(running, redis_server, user)
    assert one_call(ups.anthropic) <= REPORT_TOKEN_LIMIT
    assert counted + one_call(ups.anthropic) > REPORT_TOKEN_LIMIT
    assert err is not None and err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
    assert "can never be admitted" not in (err.details() or "")
    status = rpc_status.from_call(err)
    assert status is not None
    kinds = [d for d in status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    assert kinds, "a rate limit says when to retry"
    retry = error_details_pb2.RetryInfo()
    kinds[0].Unpack(retry)
    assert 0 < retry.retry_delay.seconds <= 60
    trailers = {k: str(v) for k, v in err.trailing_metadata() or ()}
    assert 0 < int(trailers["retry-after"]) <= 60
    assert ups.openai.requests == [], "the next provider is not called over the limit"
    assert "started" in [e.WhichOneof("event") for e in events]
    assert released(events) == ""
    # The dropped stream stays charged (its provider's input count); the lease is gone.
    assert (record.outcome, record.input_tokens) == ("failed", counted)
    assert charged == record.input_tokens + record.output_tokens


@pytest.mark.parametrize("whole", [False, True], ids=["stream", "unary"])
async def test_a_failed_call_names_the_provider_it_was_charged_for(
    fake_server: StartServer, redis_url: str, redis_server: RedisServer, whole: bool
) -> None:
    # Anthropic answered 200 and was cut before any text (charged its prompt);
    # OpenAI, tried next, answered 500 (charged nothing). The failed call's
    # completed event and audit record named openai, the last provider tried, so
    # spend reconciled per provider from the audit booked anthropic's tokens to it.
    ups = await upstreams(fake_server)
    kind = "application/json" if whole else "text/event-stream"
    start = anthropic_stream([], (40, 1))[0]  # message_start: its prompt count
    ups.anthropic.queue(Reply(body=[Cut()] if whole else [start, Cut()], content_type=kind))
    ups.openai.queue(Reply(status=500, body=openai_error(500, "boom")))
    user = f"charged-{'unary' if whole else 'stream'}"
    env = ups.env("anthropic", "openai", REDIS_URL=redis_url)
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint(user, "free"))
        events: list[chat_pb2.StreamChatResponse] = []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            if whole:
                await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=who)
            else:
                async for event in stub.StreamChat(
                    chat_pb2.StreamChatRequest(message=MESSAGE), metadata=who
                ):
                    events.append(event)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert len(ups.openai.requests) == 1, "openai was tried after anthropic"
        charged, record = await settled_charge(running, redis_server, user)
        anthropic = tokens(running, "anthropic", "claude-fake")
        assert tokens(running, "openai", "gpt-4o-mini") == Usage()
    assert (record.outcome, record.provider, record.model) == ("failed", "anthropic", "claude-fake")
    assert Usage(record.input_tokens, record.output_tokens) == anthropic
    assert charged == anthropic.input_tokens + anthropic.output_tokens > 0
    if not whole:
        done = events[-1].completed
        assert (done.provider, done.model) == ("anthropic", "claude-fake")
        assert Usage(done.usage.input_tokens, done.usage.output_tokens) == anthropic


@pytest.mark.parametrize("whole", [False, True], ids=["stream", "unary"])
async def test_a_call_no_provider_accepted_names_none(
    fake_server: StartServer, whole: bool
) -> None:
    # Both answered 500: nothing was charged, so no provider is named (the last
    # tried was, as if it had taken the call).
    ups = await upstreams(fake_server)
    ups.openai.queue(Reply(status=500, body=openai_error(500, "boom")))
    ups.anthropic.queue(Reply(status=500, body=anthropic_error(500, "boom")))
    async with running_app(**ups.env("openai", "anthropic")) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint(f"none-{'unary' if whole else 'stream'}"))
        events: list[chat_pb2.StreamChatResponse] = []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            if whole:
                await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=who)
            else:
                async for event in stub.StreamChat(
                    chat_pb2.StreamChatRequest(message=MESSAGE), metadata=who
                ):
                    events.append(event)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert (len(ups.openai.requests), len(ups.anthropic.requests)) == (1, 1)
        record = await only_audit_record(running, timeout_s=5)
    assert (record.outcome, record.provider, record.model) == ("failed", "", "")
    assert (record.input_tokens, record.output_tokens) == (0, 0)
    if not whole:
        done = events[-1].completed
        assert (done.provider, done.model, done.usage.input_tokens) == ("", "", 0)
