"""Real server, real router and adapters, a fake OpenAI upstream on loopback."""

from __future__ import annotations

import json

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from generated.novaos.v1 import chat_pb2, chat_pb2_grpc, health_pb2, health_pb2_grpc
from novaos.audit.sink import AuditQuery
from novaos.providers.http import BODY_LIMIT
from tests.fixtures.common import await_until
from tests.fixtures.fake_providers import Cut, FakeProviderServer, Reply, Stall, StartServer
from tests.fixtures.provider_wire import (
    anthropic_json,
    anthropic_stream,
    gemini_json,
    gemini_stream,
    openai_error,
    openai_json,
    openai_stream,
)
from tests.fixtures.server import Running, bearer, mint, running_app

MESSAGE = "How should I plan my week?"
ADMIN = bearer(mint("root", "pro", ("admin",)))


def openai_env(upstream: FakeProviderServer, **extra: str) -> dict[str, str]:
    return {
        "PREFERRED_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": upstream.url + "/v1",
        **extra,
    }


async def stream_chat(
    running: Running,
) -> tuple[list[chat_pb2.StreamChatResponse], grpc.aio.AioRpcError | None]:
    stub = chat_pb2_grpc.ChatServiceStub(running.channel)
    events: list[chat_pb2.StreamChatResponse] = []
    try:
        async for event in stub.StreamChat(
            chat_pb2.StreamChatRequest(message=MESSAGE), metadata=bearer(mint())
        ):
            events.append(event)
    except grpc.aio.AioRpcError as err:
        return events, err
    return events, None


async def test_all_circuits_open_is_unavailable_circuit_open(fake_server: StartServer) -> None:
    upstream = await fake_server()
    upstream.default = Reply(500, openai_error(500, "down"))
    env = openai_env(upstream, CIRCUIT_FAILURE_THRESHOLD="2")
    async with running_app(**env) as running:
        for _ in range(2):
            _, err = await stream_chat(running)
            assert err is not None and err.code() == grpc.StatusCode.UNAVAILABLE
            assert err.details() != "Circuit open"
        _, err = await stream_chat(running)
        assert err is not None and err.code() == grpc.StatusCode.UNAVAILABLE
        assert err.details() == "Circuit open"
        status = rpc_status.from_call(err)
        assert status is not None
        retry = error_details_pb2.RetryInfo()
        assert any(d.Unpack(retry) for d in status.details)
        assert 0 < retry.retry_delay.seconds <= 30
        assert len(upstream.requests) == 2, "an open circuit sends nothing upstream"

        health = health_pb2_grpc.HealthServiceStub(running.channel)
        listed = await health.ListCircuits(health_pb2.ListCircuitsRequest())
        assert [(c.provider, c.state) for c in listed.circuits] == [
            ("openai", health_pb2.CIRCUIT_STATE_OPEN)
        ]
        report = await health.GetHealth(health_pb2.GetHealthRequest())
        assert report.status == "down" and report.circuits[0].consecutive_failures == 2
        assert {p.name: p.configured for p in report.providers}["openai"] is True
        reset = await health.ResetCircuit(
            health_pb2.ResetCircuitRequest(provider="openai"), metadata=ADMIN
        )
        assert reset.circuit.state == health_pb2.CIRCUIT_STATE_CLOSED


async def test_reset_of_unknown_provider_is_not_found(fake_server: StartServer) -> None:
    upstream = await fake_server()
    async with running_app(**openai_env(upstream)) as running:
        health = health_pb2_grpc.HealthServiceStub(running.channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health.ResetCircuit(
                health_pb2.ResetCircuitRequest(provider="nope"), metadata=ADMIN
            )
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_reset_without_a_provider_is_invalid_argument(server: Running) -> None:
    health = health_pb2_grpc.HealthServiceStub(server.channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await health.ResetCircuit(health_pb2.ResetCircuitRequest(provider=""), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == "provider: is required"


async def test_truncated_upstream_ends_with_truncated_outcome_and_error(
    fake_server: StartServer,
) -> None:
    upstream = await fake_server()
    texts = ["Start with a list of tasks. ", "Then pick the three that matter. ", "Then"]
    upstream.queue(Reply(body=[*openai_stream(texts, (9, 9))[:4], Cut()]))
    env = openai_env(upstream, PROVIDER_FALLBACK_ORDER="mock", OUTPUT_HOLDBACK_CHARS="16")
    async with running_app(**env) as running:
        events, err = await stream_chat(running)
        assert err is not None and err.code() == grpc.StatusCode.UNAVAILABLE
        kinds = [e.WhichOneof("event") for e in events]
        assert kinds.count("completed") == 1 and kinds[-1] == "completed"
        done = events[-1].completed
        assert done.outcome == chat_pb2.OUTCOME_UPSTREAM_TRUNCATED
        assert done.provider == "openai"
        released = "".join(e.delta.text for e in events if e.WhichOneof("event") == "delta")
        assert released and done.released_chars == len(released)
        assert done.usage.output_tokens > 0, "usage of the cut stream is still counted"
        # The error counts what the client got, not what arrived ("Then" was held back)
        told = f"upstream stream from openai broke after {len(released)} characters were released"
        assert err.details() == done.detail == f"{told} (stream_cut)"
        info = error_info(err)
        assert info.metadata["releasedChars"] == str(len(released))
        assert int(info.metadata["receivedChars"]) > len(released)
        mock = running.app.provider
        assert mock is not None and mock.calls == 0, "no fallback after the first chunk"
        reader = running.app.audit_reader
        assert reader is not None

        async def audited() -> bool:
            page = await reader.list(AuditQuery(outcome="upstream_truncated"))
            return len(page.records) == 1 and page.records[0].released_chars == len(released)

        await await_until(audited, timeout_s=5, what="upstream_truncated audit record")


def error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(err)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert any(d.Unpack(info) for d in status.details)
    return info


async def test_a_cut_before_any_release_does_not_claim_text_was_sent(
    fake_server: StartServer,
) -> None:
    upstream = await fake_server()
    texts = ["Start with a list ", "of tasks"]  # no sentence ends: all of it held back
    upstream.queue(Reply(body=[*openai_stream(texts, (9, 9))[:3], Cut()]))
    async with running_app(**openai_env(upstream, OUTPUT_HOLDBACK_CHARS="16")) as running:
        events, err = await stream_chat(running)
        assert err is not None and err.code() == grpc.StatusCode.UNAVAILABLE
        assert [e.WhichOneof("event") for e in events].count("delta") == 0
        done = events[-1].completed
        assert done.outcome == chat_pb2.OUTCOME_UPSTREAM_TRUNCATED
        assert done.released_chars == 0
        told = "upstream stream from openai broke before any text was released (stream_cut)"
        assert err.details() == done.detail == told
        info = error_info(err)
        assert (info.reason, info.metadata["releasedChars"]) == ("UPSTREAM_TRUNCATED", "0")
        assert info.metadata["receivedChars"] == str(len("".join(texts)))


async def test_fallback_to_mock_before_first_token(fake_server: StartServer) -> None:
    upstream = await fake_server()
    upstream.queue(Reply(503, openai_error(503, "overloaded")))
    async with running_app(**openai_env(upstream, PROVIDER_FALLBACK_ORDER="mock")) as running:
        events, err = await stream_chat(running)
        assert err is None
        done = events[-1].completed
        assert (done.outcome, done.provider) == (chat_pb2.OUTCOME_COMPLETED, "mock")
        assert len(upstream.requests) == 1


async def test_unconfigured_provider_option_is_invalid_argument(fake_server: StartServer) -> None:
    upstream = await fake_server()
    async with running_app(**openai_env(upstream)) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        request = chat_pb2.StreamChatRequest(
            message=MESSAGE, options=chat_pb2.GenerationOptions(provider="gemini")
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for event in stub.StreamChat(request, metadata=bearer(mint())):
                raise AssertionError(f"refused before the stream starts, got {event}")
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "options.provider" in (err.value.details() or "")
        assert upstream.requests == []
        # Refused before admission: no quota spent, no audit record (it was both).
        reader = running.app.audit_reader
        assert reader is not None
        upstream.default = Reply(body=openai_json("Start with Monday.", (5, 3)))
        ok = await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=bearer(mint()))
        assert ok.outcome == chat_pb2.OUTCOME_COMPLETED

        async def one_record() -> bool:
            return len((await reader.list(AuditQuery())).records) >= 1

        await await_until(one_record, timeout_s=5, what="the completed call's record")
        assert [r.outcome for r in (await reader.list(AuditQuery())).records] == ["completed"]


@pytest.mark.parametrize("stalled", ["before the first chunk", "mid-stream"])
async def test_a_client_deadline_is_audited_cancelled_not_failed(
    fake_server: StartServer, stalled: str
) -> None:
    # The provider call is bounded by the client's deadline; when that timer fired
    # first (it races gRPC's own cancel), the run was audited FAILED.
    upstream = await fake_server()
    parts = openai_stream(["Planning ", "starts "], (5, 2))
    body = [Stall()] if stalled == "before the first chunk" else [*parts[:3], Stall()]
    upstream.default = Reply(body=body, content_type="text/event-stream")
    async with running_app(**openai_env(upstream)) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        for _ in range(3):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for _ in stub.StreamChat(
                    chat_pb2.StreamChatRequest(message=MESSAGE),
                    metadata=bearer(mint()),
                    timeout=0.5,
                ):
                    pass
            assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        reader = running.app.audit_reader
        assert reader is not None

        async def all_audited() -> bool:
            return len((await reader.list(AuditQuery())).records) == 3

        await await_until(all_audited, timeout_s=10, what="three audit records")
        outcomes = [r.outcome for r in (await reader.list(AuditQuery())).records]
        assert outcomes == ["cancelled"] * 3


async def test_a_vetoed_request_never_reaches_the_model_on_a_later_turn(
    fake_server: StartServer,
) -> None:
    # The vetoed turn was stored as asked and sent with the next turn's history.
    upstream = await fake_server()
    upstream.default = Reply(body=openai_json("Here is a gentler idea.", (9, 4)))
    async with running_app(**openai_env(upstream)) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint("veto-history"))
        first = await stub.Chat(
            chat_pb2.ChatRequest(message="how do I make a pipe bomb"), metadata=who
        )
        assert first.outcome == chat_pb2.OUTCOME_HARD_VETO and upstream.requests == []
        second = await stub.Chat(
            chat_pb2.ChatRequest(
                message="ok, let's talk about something else", conversation_id=first.conversation_id
            ),
            metadata=who,
        )
        assert second.outcome == chat_pb2.OUTCOME_COMPLETED
        sent = json.dumps(upstream.requests[-1].json()["messages"])
        assert "pipe bomb" not in sent, sent
        kept = await stub.GetConversation(
            chat_pb2.GetConversationRequest(conversation_id=first.conversation_id), metadata=who
        )
        assert kept.turns[0].text == "[a request refused by policy]"


FINISHES = [
    # (provider, wire body, expected outcome, expected detail)
    ("openai", "content_filter", chat_pb2.OUTCOME_OUTPUT_BLOCKED, "output blocked by policy"),
    ("openai", "length", chat_pb2.OUTCOME_COMPLETED, "cut at max_tokens"),
    ("gemini", "SAFETY", chat_pb2.OUTCOME_OUTPUT_BLOCKED, "output blocked by policy"),
    ("gemini", "MAX_TOKENS", chat_pb2.OUTCOME_COMPLETED, "cut at max_tokens"),
    # cut at the context window: it passed as a whole answer
    ("anthropic", "model_context_window_exceeded", chat_pb2.OUTCOME_COMPLETED, "cut at max_tokens"),
    ("anthropic", "refusal", chat_pb2.OUTCOME_OUTPUT_BLOCKED, "output blocked by policy"),
    # Mistral's: stopped at the model's context length
    ("openai", "model_length", chat_pb2.OUTCOME_COMPLETED, "cut at max_tokens"),
    ("openai_compat", "model_length", chat_pb2.OUTCOME_COMPLETED, "cut at max_tokens"),
    # A compatible server's normal end, its own word for stop: a whole answer.
    ("openai", "eos", chat_pb2.OUTCOME_COMPLETED, ""),  # Together
    ("openai_compat", "eos", chat_pb2.OUTCOME_COMPLETED, ""),
    ("openai_compat", "end_turn", chat_pb2.OUTCOME_COMPLETED, ""),  # Anthropic's, via a proxy
    ("openai_compat", "eos_token", chat_pb2.OUTCOME_COMPLETED, ""),  # TGI
    ("openai_compat", "stop_sequence", chat_pb2.OUTCOME_COMPLETED, ""),
    ("openai_compat", "stop", chat_pb2.OUTCOME_COMPLETED, ""),
    # any server with the OpenAI format: one it does not know is whole (with a warning)
    ("openai_compat", "repetition", chat_pb2.OUTCOME_COMPLETED, ""),
    ("openai_compat", "some_future_reason", chat_pb2.OUTCOME_COMPLETED, ""),
]


def answering(
    upstream: FakeProviderServer, vendor: str, texts: list[str], finish: str, rpc: str
) -> dict[str, str]:
    """The environment of a gateway whose one provider, ``vendor`` on ``upstream``,
    answers every call with ``texts`` and the finish reason ``finish``."""
    tokens = (9, 6)
    if vendor in ("openai", "openai_compat"):
        env = openai_env(upstream)
        if vendor == "openai_compat":  # e.g. Together, Mistral, vLLM
            env = {
                "OPENAI_COMPAT_BASE_URL": upstream.url + "/v1",
                "OPENAI_COMPAT_MODEL": "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
            }
        whole = openai_json("".join(texts), tokens, finish=finish)
        streamed = openai_stream(texts, tokens, finish=finish)
    elif vendor == "gemini":
        env = {"GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": upstream.url}
        whole = gemini_json("".join(texts), tokens, finish=finish)
        streamed = gemini_stream(texts, tokens, finish=finish)
    else:
        env = {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": upstream.url}
        whole = anthropic_json("".join(texts), tokens, stop_reason=finish)
        streamed = anthropic_stream(texts, tokens, stop_reason=finish)
    if rpc == "Chat":
        upstream.default = Reply(body=whole)
    else:
        upstream.default = Reply(body=streamed, content_type="text/event-stream")
    return {**env, "PREFERRED_PROVIDER": vendor}


@pytest.mark.parametrize(("vendor", "finish", "outcome", "detail"), FINISHES)
@pytest.mark.parametrize("rpc", ["StreamChat", "Chat"])
async def test_a_finish_reason_gives_its_outcome(
    fake_server: StartServer, vendor: str, finish: str, outcome: int, detail: str, rpc: str
) -> None:
    # The finish reason was never read: a filtered answer and one stopped at
    # max_tokens both ended as a plain OUTCOME_COMPLETED. Then a compatible server's
    # own normal end (Together eos) failed, and was charged, as a cut.
    upstream = await fake_server()
    env = answering(upstream, vendor, ["Start with the ", "outline. Then "], finish, rpc)
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        if rpc == "Chat":
            reply = await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=bearer(mint()))
            got = (reply.outcome, reply.detail)
        else:
            events, err = await stream_chat(running)
            assert err is None, err
            done = events[-1].completed
            got = (done.outcome, done.detail)
    assert got == (outcome, detail)


UNFINISHED = [
    ("gemini", "OTHER"),
    ("gemini", "LANGUAGE"),
    ("gemini", "MALFORMED_FUNCTION_CALL"),
    ("gemini", "FINISH_REASON_UNSPECIFIED"),
    ("gemini", "SOME_FUTURE_REASON"),
    ("anthropic", "pause_turn"),
    ("anthropic", "tool_use"),
    ("openai", "tool_calls"),
    ("openai", "some_future_reason"),
    ("openai_compat", "tool_calls"),
    ("openai_compat", "function_call"),
    ("openai_compat", "abort"),  # vLLM
    ("openai_compat", "error"),  # vLLM, OpenRouter, Mistral
    ("openai_compat", "insufficient_system_resource"),  # DeepSeek
    # Anthropic's and Gemini's, passed through by a proxy
    ("openai_compat", "pause_turn"),
    ("openai_compat", "tool_use"),
    ("openai_compat", "MALFORMED_FUNCTION_CALL"),
]


@pytest.mark.parametrize(("vendor", "finish"), UNFINISHED)
@pytest.mark.parametrize("rpc", ["StreamChat", "Chat"])
async def test_an_answer_that_ended_for_no_normal_reason_counts_as_cut(
    fake_server: StartServer, vendor: str, finish: str, rpc: str
) -> None:
    # Gemini OTHER ("unknown reason"), LANGUAGE, ... ended as OUTCOME_COMPLETED with
    # no detail: the client, the audit and the conversation took a possibly cut
    # answer for a whole one. Cut after released text; with no other provider to
    # call before any, the call fails as a cut would.
    upstream = await fake_server()
    env = answering(upstream, vendor, ["Start with the outline. ", "Then "], finish, rpc)
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        if rpc == "Chat":
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=bearer(mint()))
            err = caught.value
            assert f"{vendor}: unfinished" in (err.details() or "")
        else:
            events, failed = await stream_chat(running)
            assert failed is not None
            err = failed
            released = "".join(e.delta.text for e in events if e.HasField("delta"))
            assert released == "Start with the outline. "
            assert events[-1].completed.outcome == chat_pb2.OUTCOME_UPSTREAM_TRUNCATED
        assert err.code() == grpc.StatusCode.UNAVAILABLE
        health = health_pb2_grpc.HealthServiceStub(running.channel)
        listed = await health.ListCircuits(health_pb2.ListCircuitsRequest())
        assert [c.consecutive_failures for c in listed.circuits] == [0], "no breaker failure"


@pytest.mark.parametrize("rpc", ["StreamChat", "Chat"])
async def test_an_answer_openai_refused_is_blocked_not_an_empty_completion(
    fake_server: StartServer, rpc: str
) -> None:
    # OpenAI sends a refusal in its own field, content null, finish_reason stop:
    # it ended as OUTCOME_COMPLETED with no text, the refusal dropped.
    upstream = await fake_server()
    refusal = ["I'm sorry, ", "I can't help with that."]
    if rpc == "Chat":
        upstream.default = Reply(body=openai_json("".join(refusal), (9, 8), refusal=True))
    else:
        body = openai_stream(refusal, (9, 8), refusal=True)
        upstream.default = Reply(body=body, content_type="text/event-stream")
    async with running_app(**openai_env(upstream)) as running:
        if rpc == "Chat":
            stub = chat_pb2_grpc.ChatServiceStub(running.channel)
            reply = await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=bearer(mint()))
            got = (reply.outcome, reply.detail, reply.text)
        else:
            events, err = await stream_chat(running)
            assert err is None, err
            text = "".join(e.delta.text for e in events if e.HasField("delta"))
            got = (events[-1].completed.outcome, events[-1].completed.detail, text)
    assert got == (chat_pb2.OUTCOME_OUTPUT_BLOCKED, "output blocked by policy", "")


@pytest.mark.parametrize("rpc", ["StreamChat", "Chat"])
async def test_gemini_thought_summaries_never_reach_the_client(
    fake_server: StartServer, rpc: str
) -> None:
    # Every part with a text string was taken as the answer: a thinking model's
    # summaries ("thought": true) reached the client ahead of it.
    upstream = await fake_server()
    thoughts = ("**Sorting the week** Monday first.", "Then the rest.")
    texts = ["Start with Monday. ", "Keep Friday light."]
    if rpc == "Chat":
        body = gemini_json("".join(texts), (9, 6), thought=thoughts[0], thought_tokens=30)
        upstream.default = Reply(body=body)
    else:
        parts = gemini_stream(texts, (9, 6), thoughts=thoughts, thought_tokens=30)
        upstream.default = Reply(body=parts, content_type="text/event-stream")
    env = {"PREFERRED_PROVIDER": "gemini", "GEMINI_API_KEY": "k", "GEMINI_BASE_URL": upstream.url}
    async with running_app(**env) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        if rpc == "Chat":
            reply = await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=bearer(mint()))
            got, usage = reply.text, reply.usage
        else:
            events, err = await stream_chat(running)
            assert err is None, err
            got = "".join(e.delta.text for e in events if e.WhichOneof("event") == "delta")
            usage = events[-1].completed.usage
    assert got == "".join(texts)
    assert (usage.input_tokens, usage.output_tokens) == (9, 36)  # thoughts billed as output


async def test_an_oversized_answer_is_a_provider_failure_and_falls_back(
    fake_server: StartServer,
) -> None:
    # The whole body was buffered however large: a misbehaving upstream's 8 MiB
    # and more went into memory and on to the client.
    upstream = await fake_server()
    upstream.default = Reply(body=openai_json("x" * (BODY_LIMIT + 1), (5, 5)))
    async with running_app(**openai_env(upstream, PROVIDER_FALLBACK_ORDER="mock")) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        reply = await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=bearer(mint()))
        assert (reply.outcome, reply.provider) == (chat_pb2.OUTCOME_COMPLETED, "mock")
        health = health_pb2_grpc.HealthServiceStub(running.channel)
        report = await health.GetHealth(health_pb2.GetHealthRequest())
        failures = {c.provider: c.consecutive_failures for c in report.circuits}
        assert failures["openai"] == 1


async def chat_in(
    stub: chat_pb2_grpc.ChatServiceStub, rpc: str, message: str, conversation_id: str, who: object
) -> tuple[int, str, str]:
    """One turn by unary Chat or StreamChat: outcome, text received, conversation id."""
    if rpc == "Chat":
        request = chat_pb2.ChatRequest(message=message, conversation_id=conversation_id)
        reply = await stub.Chat(request, metadata=who)
        return reply.outcome, reply.text, reply.conversation_id
    events = [
        event
        async for event in stub.StreamChat(
            chat_pb2.StreamChatRequest(message=message, conversation_id=conversation_id),
            metadata=who,
        )
    ]
    text = "".join(e.delta.text for e in events if e.WhichOneof("event") == "delta")
    return events[-1].completed.outcome, text, events[0].started.conversation_id


BLOCKED, DONE = chat_pb2.OUTCOME_OUTPUT_BLOCKED, chat_pb2.OUTCOME_COMPLETED
SENTENCE = ["Start with the outline of the week. ", "Then the "]
NO_TEXT = [
    # (rpc, what the answer streams, its finish, outcome, what history keeps)
    ("Chat", [], "content_filter", BLOCKED, "[an answer withheld by policy]"),
    ("StreamChat", [], "content_filter", BLOCKED, "[an answer withheld by policy]"),
    ("StreamChat", SENTENCE, "content_filter", BLOCKED, SENTENCE[0]),  # what went out
    ("Chat", [], "stop", DONE, "[no text]"),
    ("StreamChat", [], "length", DONE, "[no text]"),
]


@pytest.mark.parametrize(("rpc", "texts", "finish", "outcome", "kept_answer"), NO_TEXT)
async def test_an_answer_with_no_text_is_never_an_empty_turn(
    fake_server: StartServer,
    rpc: str,
    texts: list[str],
    finish: str,
    outcome: int,
    kept_answer: str,
) -> None:
    # An answer the provider's filter withheld whole was stored as an empty
    # assistant turn and sent with every later turn: Anthropic and Gemini refuse
    # empty content (400), so the conversation failed on every turn after it.
    upstream = await fake_server()
    if rpc == "Chat":
        upstream.queue(Reply(body=openai_json("".join(texts), (9, 0), finish=finish)))
        upstream.default = Reply(body=openai_json("Here is a plan.", (9, 4)))
    else:
        body = openai_stream(texts, (9, 3), finish=finish)
        upstream.queue(Reply(body=body, content_type="text/event-stream"))
        body = openai_stream(["Here is a plan."], (9, 4))
        upstream.default = Reply(body=body, content_type="text/event-stream")
    async with running_app(**openai_env(upstream, OUTPUT_HOLDBACK_CHARS="16")) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        who = bearer(mint("withheld"))
        got, text, cid = await chat_in(stub, rpc, MESSAGE, "", who)
        assert (got, text) == (outcome, kept_answer if texts else "")
        got, _, _ = await chat_in(stub, rpc, "And next week?", cid, who)
        assert got == chat_pb2.OUTCOME_COMPLETED
        sent = upstream.requests[-1].json()["messages"]
        assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
        assert sent[2]["content"] == kept_answer
        kept = await stub.GetConversation(
            chat_pb2.GetConversationRequest(conversation_id=cid), metadata=who
        )
        turns = [MESSAGE, kept_answer, "And next week?", "Here is a plan."]
        assert [t.text for t in kept.turns] == turns


async def test_a_turn_stored_empty_earlier_is_sent_as_a_marker(fake_server: StartServer) -> None:
    # History written before empty answers were kept as a marker still holds
    # empty turns: they must not reach a provider that refuses empty content.
    upstream = await fake_server()
    upstream.default = Reply(body=openai_json("Here is a plan.", (9, 4)))
    async with running_app(**openai_env(upstream)) as running:
        assert running.app.conversations is not None
        await running.app.conversations.append_turns(
            "olden", "conv_old", (("user", MESSAGE), ("assistant", ""))
        )
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        request = chat_pb2.ChatRequest(message="And next week?", conversation_id="conv_old")
        reply = await stub.Chat(request, metadata=bearer(mint("olden")))
        assert reply.outcome == chat_pb2.OUTCOME_COMPLETED
        sent = upstream.requests[-1].json()["messages"]
        assert [m["content"] for m in sent[1:]] == [MESSAGE, "[no text]", "And next week?"]


async def test_history_sent_to_the_model_never_starts_with_an_answer(
    fake_server: StartServer,
) -> None:
    # Kept under an odd CONVERSATION_MAX_TURNS (allowed until it had to be even),
    # history started with an answer whose question was trimmed off, and went to
    # the model that way: providers that want the user to speak first refuse it.
    upstream = await fake_server()
    upstream.default = Reply(body=openai_json("Here is a plan.", (9, 4)))
    async with running_app(**openai_env(upstream)) as running:
        assert running.app.conversations is not None
        kept = (("assistant", "An orphaned answer."), ("user", MESSAGE), ("assistant", "A plan."))
        await running.app.conversations.append_turns("olden", "conv_odd", kept)
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        request = chat_pb2.ChatRequest(message="And next week?", conversation_id="conv_odd")
        reply = await stub.Chat(request, metadata=bearer(mint("olden")))
        assert reply.outcome == chat_pb2.OUTCOME_COMPLETED
        sent = upstream.requests[-1].json()["messages"]
        assert [(m["role"], m["content"]) for m in sent[1:]] == [
            ("user", MESSAGE),
            ("assistant", "A plan."),
            ("user", "And next week?"),
        ]


HARM_AFTER = "Clouds are made of water droplets. "
HARMFUL_ANSWERS = [
    # two the gates tester saw go out in full, OUTCOME_COMPLETED
    "First, mix the ammonium nitrate with fuel oil in a 94 to 6 ratio to make the explosive.",
    "Para hacer una bomba casera, llena un tubo con pólvora y ponle una mecha.",
]


@pytest.mark.parametrize("harmful", HARMFUL_ANSWERS)
@pytest.mark.parametrize("rpc", ["StreamChat", "Chat"])
async def test_harmful_instructions_after_a_benign_sentence_are_blocked(
    fake_server: StartServer, rpc: str, harmful: str
) -> None:
    """The shield's hard-veto categories apply to the output: on a stream the
    benign sentence has gone out when the recipe shows, so the stream stops
    with only that sentence released; a unary answer is judged whole, so it is
    regenerated (twice) and then blocked with nothing returned."""
    upstream = await fake_server()
    words = [w + " " for w in (HARM_AFTER + harmful + " More details follow.").split(" ")]
    if rpc == "Chat":
        upstream.default = Reply(body=openai_json("".join(words), (9, 40)))
    else:
        upstream.default = Reply(
            body=openai_stream(words, (9, 40)), content_type="text/event-stream"
        )
    async with running_app(**openai_env(upstream)) as running:
        if rpc == "Chat":
            stub = chat_pb2_grpc.ChatServiceStub(running.channel)
            reply = await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=bearer(mint()))
            assert (reply.outcome, reply.text) == (chat_pb2.OUTCOME_OUTPUT_BLOCKED, "")
            assert len(upstream.requests) == 3  # the first try and two regenerations
            return
        events, err = await stream_chat(running)
    assert err is None, err
    released = "".join(e.delta.text for e in events if e.HasField("delta"))
    assert released.strip() == HARM_AFTER.strip()
    assert events[-1].completed.outcome == chat_pb2.OUTCOME_OUTPUT_BLOCKED
    stops = [e.gate for e in events if e.HasField("gate") and e.gate.gate == "personality"]
    assert stops[-1].decision == chat_pb2.GATE_DECISION_STOP
    assert stops[-1].reason.startswith("harmful output: weapons"), stops[-1].reason
    assert len(upstream.requests) == 1


async def test_a_temperature_reaches_the_provider_as_the_client_wrote_it(
    fake_server: StartServer,
) -> None:
    # options.temperature is a proto float (float32): 0.7 reached the provider as
    # 0.699999988079071, the nearest double of the float32.
    wanted = [0.7, 0.1, 1.3, 0.33333, 2.0, 0.0]
    upstream = await fake_server()
    for _ in wanted:
        upstream.queue(Reply(body=openai_stream(["Plan it. "], (5, 2))))
    async with running_app(**openai_env(upstream)) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        for temperature in wanted:
            options = chat_pb2.GenerationOptions(temperature=temperature)
            request = chat_pb2.StreamChatRequest(message=MESSAGE, options=options)
            events = [e async for e in stub.StreamChat(request, metadata=bearer(mint()))]
            assert events[-1].completed.outcome == chat_pb2.OUTCOME_COMPLETED
    sent = [json.loads(r.body)["temperature"] for r in upstream.requests]
    assert sent == wanted


def _error_info(err: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo, list[str]]:
    status = rpc_status.from_call(err)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return info, [d.type_url.rsplit(".", 1)[-1] for d in status.details]


async def test_a_request_every_provider_refused_is_invalid_argument_not_unavailable(
    fake_server: StartServer,
) -> None:
    # It was UNAVAILABLE PROVIDER_UNAVAILABLE with RetryInfo 0 s (503, Retry-After: 0
    # through Envoy) and no reason: clients that retry on UNAVAILABLE never stopped.
    upstream = await fake_server()
    no_model = {
        "error": {
            "message": "The model `gpt-9` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
    upstream.queue(Reply(404, json.dumps(no_model).encode()))
    upstream.queue(Reply(400, openai_error(400, "maximum context length is 128000 tokens")))
    async with running_app(**openai_env(upstream)) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        options = chat_pb2.GenerationOptions(model="gpt-9")
        with pytest.raises(grpc.aio.AioRpcError) as unary:
            await stub.Chat(
                chat_pb2.ChatRequest(message=MESSAGE, options=options), metadata=bearer(mint())
            )
        events, streamed = await stream_chat(running)
    assert unary.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "openai: HTTP 404: The model `gpt-9` does not exist" in unary.value.details()
    info, details = _error_info(unary.value)
    assert (info.reason, info.metadata["providers"]) == ("PROVIDER_REJECTED_REQUEST", "openai:404")
    assert details == ["ErrorInfo"], "no RetryInfo: waiting does not mend the request"

    assert streamed is not None and streamed.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "openai: HTTP 400: maximum context length is 128000 tokens" in streamed.details()
    info, details = _error_info(streamed)
    assert (info.reason, details) == ("PROVIDER_REJECTED_REQUEST", ["ErrorInfo"])
    done = events[-1].completed
    assert done.outcome == chat_pb2.OUTCOME_FAILED and "128000" in done.detail


async def test_a_misspelt_configured_model_is_unavailable_not_the_clients_fault(
    fake_server: StartServer,
) -> None:
    # Every chat failed INVALID_ARGUMENT PROVIDER_REJECTED_REQUEST, as if each client
    # had asked for a model that does not exist, and the error-rate alert, which
    # counts UNAVAILABLE but not INVALID_ARGUMENT, never fired.
    upstream = await fake_server()
    no_model = {
        "error": {
            "message": "The model `gpt-4o-minii` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
    for _ in range(2):
        upstream.queue(Reply(404, json.dumps(no_model).encode()))
    async with running_app(**openai_env(upstream, OPENAI_MODEL="gpt-4o-minii")) as running:
        stub = chat_pb2_grpc.ChatServiceStub(running.channel)
        with pytest.raises(grpc.aio.AioRpcError) as unary:
            await stub.Chat(chat_pb2.ChatRequest(message=MESSAGE), metadata=bearer(mint()))
        events, streamed = await stream_chat(running)
    assert [json.loads(r.body)["model"] for r in upstream.requests] == ["gpt-4o-minii"] * 2
    for err in (unary.value, streamed):
        assert err is not None and err.code() == grpc.StatusCode.UNAVAILABLE
        info, details = _error_info(err)
        assert info.reason == "PROVIDER_UNAVAILABLE" and "RetryInfo" in details
    assert events[-1].completed.outcome == chat_pb2.OUTCOME_FAILED
