"""Each HTTP adapter against a loopback server speaking its provider's wire format."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import pytest

from novaos.errors import DeadlineExceededError
from novaos.ports import ChatMessage, Provider, ProviderChunk, ProviderRequest
from novaos.providers import errors as perr
from novaos.providers.http import HttpSettings
from novaos.providers.retry_after import DEFAULT_RATE_LIMIT_WAIT_S
from novaos.tokens import MAX_REPORTED_TOKENS, believable, estimate_usage
from tests.fixtures.common import free_port
from tests.fixtures.fake_providers import (
    Cut,
    FakeProviderServer,
    RecordedRequest,
    Reply,
    Reset,
    Stall,
    StartServer,
)
from tests.fixtures.provider_wire import KITS, ProviderKit, openai_json, openai_stream, progress

HTTP = HttpSettings(connect_timeout_s=2.0, read_timeout_s=5.0, total_timeout_s=10.0)
REQUEST = ProviderRequest(
    messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "Say hello")),
    max_tokens=64,
    temperature=0.2,
)
TEXTS = ["Hel", "lo, ", "wörld", " 🙂!"]
ANTHROPIC, GEMINI, OPENAI_COMPAT = (
    next(k for k in KITS if k.name == name) for name in ("anthropic", "gemini", "openai_compat")
)


@dataclass
class Rig:
    kit: ProviderKit
    server: FakeProviderServer
    provider: Provider

    def expected_usage(self, text: str) -> tuple[int, int]:
        if self.kit.tokens is not None:
            return self.kit.tokens
        usage = estimate_usage(REQUEST.messages, text)
        return usage.input_tokens, usage.output_tokens


@pytest.fixture(params=KITS, ids=[k.name for k in KITS])
async def rig(request: pytest.FixtureRequest, fake_server: StartServer) -> AsyncIterator[Rig]:
    kit: ProviderKit = request.param
    server = await fake_server()
    provider = kit.build(server.url, HTTP)
    yield Rig(kit, server, provider)
    await provider.aclose()


@asynccontextmanager
async def built(
    kit: ProviderKit, fake_server: StartServer
) -> AsyncIterator[tuple[FakeProviderServer, Provider]]:
    """``kit``'s adapter against a new fake server, closed at the end."""
    server = await fake_server()
    provider = kit.build(server.url, HTTP)
    try:
        yield server, provider
    finally:
        await provider.aclose()


async def collect(provider: Provider, request: ProviderRequest = REQUEST) -> list[ProviderChunk]:
    return [chunk async for chunk in provider.stream(request) if not progress(chunk)]


def assert_wire_request(kit: ProviderKit, seen: RecordedRequest) -> None:
    body = seen.json()
    assert seen.path == kit.path
    if kit.name.startswith("openai"):
        assert body["stream"] is True
        assert body["stream_options"] == {"include_usage": True}
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert (seen.headers.get("authorization") == "Bearer test-key") == (kit.name == "openai")
    elif kit.name == "gemini":
        assert seen.query == {"alt": ["sse"]}
        assert seen.headers["x-goog-api-key"] == "test-key"
        assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
        assert body["contents"] == [{"role": "user", "parts": [{"text": "Say hello"}]}]
        assert body["generationConfig"] == {"maxOutputTokens": 64, "temperature": 0.2}
    else:
        assert body["stream"] is True
        assert seen.headers["anthropic-version"] == "2023-06-01"
        assert body["system"] == "Be brief."
        assert body["messages"] == [{"role": "user", "content": "Say hello"}]


async def test_stream_yields_text_then_usage_on_the_last_chunk(rig: Rig) -> None:
    rig.server.queue(Reply(body=rig.kit.stream(TEXTS, rig.kit.tokens)))
    chunks = await collect(rig.provider)
    assert [c.text for c in chunks[:-1]] == TEXTS
    assert all(c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.usage is not None and last.finish_reason
    assert (last.usage.input_tokens, last.usage.output_tokens) == rig.expected_usage("".join(TEXTS))
    assert_wire_request(rig.kit, rig.server.requests[0])


async def test_arbitrary_network_chunking_gives_the_same_stream(rig: Rig) -> None:
    raw = b"".join(rig.kit.stream(TEXTS, rig.kit.tokens))
    rig.server.queue(Reply(body=[raw[i : i + 7] for i in range(0, len(raw), 7)]))
    chunks = await collect(rig.provider)
    assert "".join(c.text for c in chunks) == "".join(TEXTS)
    assert chunks[-1].usage is not None


async def test_streamed_and_unary_calls_report_the_same_usage(rig: Rig) -> None:
    rig.server.queue(
        Reply(body=rig.kit.stream(TEXTS, rig.kit.tokens)),
        Reply(body=rig.kit.json("".join(TEXTS), rig.kit.tokens)),
    )
    streamed = (await collect(rig.provider))[-1].usage
    response = await rig.provider.complete(REQUEST)
    assert response.text == "".join(TEXTS)
    assert response.usage == streamed
    assert "stream" not in rig.server.requests[1].json()


async def test_keep_alive_reuses_one_connection(rig: Rig) -> None:
    for _ in range(3):
        rig.server.queue(Reply(body=rig.kit.stream(TEXTS, rig.kit.tokens)))
        await collect(rig.provider)
    assert rig.server.connections_total == 1


async def test_429_carries_retry_after(rig: Rig) -> None:
    body = rig.kit.error(429, "slow down")
    rig.server.queue(Reply(429, body, headers={"retry-after": "7"}))
    with pytest.raises(perr.ProviderRateLimitedError) as caught:
        await collect(rig.provider)
    assert caught.value.retry_after_s == 7.0
    assert not caught.value.counts_as_failure


async def test_429_without_a_header_takes_the_wait_the_body_gives(rig: Rig) -> None:
    rig.server.queue(Reply(429, rig.kit.error(429, "slow down")))
    with pytest.raises(perr.ProviderRateLimitedError) as caught:
        await collect(rig.provider)
    # Gemini puts a google.rpc.RetryInfo in the error body; the others say nothing,
    # and a 429 that names no wait still benches the provider briefly (it was
    # asked again on every request).
    assert caught.value.retry_after_s == (
        37.0 if rig.kit.name == "gemini" else DEFAULT_RATE_LIMIT_WAIT_S
    )


async def test_429_takes_openais_rate_limit_reset_headers(rig: Rig) -> None:
    headers = {"x-ratelimit-reset-requests": "20s", "x-ratelimit-reset-tokens": "1m6.5s"}
    rig.server.queue(Reply(429, rig.kit.error(429, "slow down"), headers=headers))
    with pytest.raises(perr.ProviderRateLimitedError) as caught:
        await collect(rig.provider)
    expected = 37.0 if rig.kit.name == "gemini" else 66.5  # the body's RetryInfo wins
    assert caught.value.retry_after_s == expected


async def test_a_redirect_is_a_request_error_naming_where(rig: Rig) -> None:
    # It was read as a broken stream: a breaker failure, "stream_cut".
    rig.server.queue(Reply(301, b"", headers={"location": "https://elsewhere.example/v1"}))
    with pytest.raises(perr.ProviderRequestError) as caught:
        await collect(rig.provider)
    assert not caught.value.counts_as_failure
    assert "elsewhere.example" in caught.value.message


async def test_a_model_id_never_takes_the_request_out_of_the_base_path(rig: Rig) -> None:
    # Gemini puts the model in the URL path: resolved, ".." reached another path on
    # the provider's host, with the gateway's API key. Refused before any request
    # (options.model and *_MODEL refuse such ids first: this is the adapter's own).
    rig.server.default = Reply(body=rig.kit.json("Fine.", rig.kit.tokens))
    encoded = replace(REQUEST, model="x/%2E%2E/%2e%2e/escape")
    assert (await rig.provider.complete(encoded)).text == "Fine."  # its "%" is encoded
    assert rig.server.requests.pop().path.startswith(rig.kit.path.rsplit("/", 1)[0])
    asked = replace(REQUEST, model="x/../../../escape")
    if rig.kit.name != "gemini":  # the model goes in the body, as any text would
        assert (await rig.provider.complete(asked)).text == "Fine."
        return
    with pytest.raises(perr.ProviderRequestError, match="leaves the base URL's path"):
        await collect(rig.provider, asked)
    with pytest.raises(perr.ProviderRequestError, match="leaves the base URL's path"):
        await rig.provider.complete(asked)
    assert rig.server.requests == []
    assert (await rig.provider.complete(REQUEST)).text == "Fine."  # no slot leaked


async def test_a_compatible_servers_unknown_finish_is_whole_with_one_warning(
    fake_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Any server with the OpenAI format has its own words for a normal end (Together
    # eos, vLLM repetition, ...): taken for a cut, every answer such a server gave
    # was failed and charged. Whole, with one warning per reason the operator can see.
    caplog.set_level(logging.WARNING, logger="novaos.providers")
    async with built(OPENAI_COMPAT, fake_server) as (server, provider):
        for _ in range(2):
            server.queue(Reply(body=openai_json("Fine.", None, finish="repetition")))
            assert (await provider.complete(REQUEST)).finish_reason == "repetition"
            server.queue(
                Reply(
                    body=openai_stream(["Fi", "ne."], None, finish="repetition"),
                    content_type="text/event-stream",
                )
            )
            chunks = await collect(provider)
            assert "".join(c.text for c in chunks) == "Fine."
        server.queue(Reply(body=openai_json("Let me call a tool.", None, finish="tool_calls")))
        with pytest.raises(perr.UnfinishedAnswerError):
            await provider.complete(REQUEST)
    warned = [r.getMessage() for r in caplog.records if "finish reason" in r.getMessage()]
    assert warned == [
        "openai_compat: finish reason 'repetition' is unknown; its answer is taken as whole"
    ]


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("gemini-1.5-pro-002", "/v1beta/models/gemini-1.5-pro-002:generateContent"),
        # the resource name Gemini's own API gives a model: it went to /models/models/...
        ("models/gemini-1.5-pro-002", "/v1beta/models/gemini-1.5-pro-002:generateContent"),
        ("tunedModels/my-model-x1", "/v1beta/tunedModels/my-model-x1:generateContent"),
    ],
)
async def test_a_gemini_model_is_named_by_its_id_or_its_resource_name(
    fake_server: StartServer, model: str, path: str
) -> None:
    async with built(GEMINI, fake_server) as (server, provider):
        server.default = Reply(body=GEMINI.json("Fine.", GEMINI.tokens))
        assert (await provider.complete(replace(REQUEST, model=model))).text == "Fine."
        assert server.requests.pop().path == path
        server.default = Reply(
            body=GEMINI.stream(["Fi", "ne."], GEMINI.tokens), content_type="text/event-stream"
        )
        chunks = await collect(provider, replace(REQUEST, model=model))
        assert "".join(c.text for c in chunks) == "Fine."
        streamed = path.replace(":generateContent", ":streamGenerateContent")
        assert server.requests.pop().path == streamed


async def test_a_finish_reason_that_is_no_word_cuts_and_warnings_stay_bounded(
    fake_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    # "Once per reason" kept each unknown reason whole: 64 reasons of 4 MiB (a unary
    # body may be 8 MiB) held for the worker's life, and such an answer passed as
    # whole. Only a word-shaped reason may be an unknown normal end; anything else cuts.
    caplog.set_level(logging.WARNING, logger="novaos.providers")
    huge = "x" * (4 * 2**20)
    async with built(OPENAI_COMPAT, fake_server) as (server, provider):
        server.queue(Reply(body=openai_json("Fine.", None, finish=huge)))
        with pytest.raises(perr.UnfinishedAnswerError) as caught:
            await provider.complete(REQUEST)
        assert len(str(caught.value)) < 200
        for odd in ("x" * 65, "{'type': 'stop'}", "end turn", "stop\n"):
            server.queue(
                Reply(
                    body=openai_stream(["Fi", "ne."], None, finish=odd),
                    content_type="text/event-stream",
                )
            )
            with pytest.raises(perr.UnfinishedAnswerError):
                await collect(provider)
        for n in range(70):  # each a word: whole, a warning for the first 64 only
            server.queue(Reply(body=openai_json("Fine.", None, finish=f"reason_{n}")))
            assert (await provider.complete(REQUEST)).text == "Fine."
    warned = [r.getMessage() for r in caplog.records if "finish reason" in r.getMessage()]
    assert len(warned) == 64
    assert all(len(w) < 200 for w in warned)


async def test_500_is_a_transient_breaker_failure(rig: Rig) -> None:
    rig.server.queue(Reply(500, rig.kit.error(500, "boom")))
    with pytest.raises(perr.ProviderServerError) as caught:
        await rig.provider.complete(REQUEST)
    assert caught.value.counts_as_failure and caught.value.status == 500
    assert "boom" in caught.value.message


async def test_400_is_a_request_error_not_a_breaker_failure(rig: Rig) -> None:
    rig.server.queue(Reply(400, rig.kit.error(400, "bad request")))
    with pytest.raises(perr.ProviderRequestError) as caught:
        await collect(rig.provider)
    assert not caught.value.counts_as_failure


async def test_geminis_bad_key_400_is_an_auth_failure(rig: Rig) -> None:
    # Gemini says a bad key with 400 INVALID_ARGUMENT: it was a request error, so
    # the breaker never opened and every request paid a round trip first.
    body = (
        b'{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",'
        b' "status": "INVALID_ARGUMENT", "details": [{"@type":'
        b' "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}}'
    )
    rig.server.queue(Reply(400, body))
    with pytest.raises(perr.ProviderAuthError) as caught:
        await collect(rig.provider)
    assert caught.value.counts_as_failure


async def test_connect_refused(rig: Rig) -> None:
    provider = rig.kit.build(f"http://127.0.0.1:{free_port()}", HTTP)
    try:
        with pytest.raises(perr.ProviderConnectError):
            await collect(provider)
    finally:
        await provider.aclose()


async def test_cut_after_two_chunks(rig: Rig) -> None:
    parts = rig.kit.stream(TEXTS, rig.kit.tokens)
    rig.server.queue(Reply(body=[*parts[: rig.kit.first_text_part + 2], Cut()]))
    got: list[str] = []
    with pytest.raises(perr.StreamCutError):
        async for chunk in rig.provider.stream(REQUEST):
            if not progress(chunk):
                got.append(chunk.text)
    assert got == TEXTS[:2]


async def test_stream_without_end_marker_is_cut_not_complete(rig: Rig) -> None:
    rig.server.queue(Reply(body=rig.kit.stream(TEXTS, rig.kit.tokens)[:-1]))
    with pytest.raises(perr.StreamCutError):
        await collect(rig.provider)


@pytest.mark.parametrize("tail", [Cut(), Reset(), Stall()], ids=["cut", "reset", "stall"])
async def test_a_failure_after_the_end_marker_leaves_the_answer_whole(
    rig: Rig, tail: Cut | Reset | Stall
) -> None:
    # The end marker (or Gemini's finish reason) arrived, then the connection broke
    # or went quiet before the body's own end: the answer is whole, not cut. A read
    # timeout shorter than the test shows a stall is not waited out either.
    provider = rig.kit.build(rig.server.url, replace(HTTP, read_timeout_s=0.5))
    rig.server.queue(Reply(body=[*rig.kit.stream(TEXTS, rig.kit.tokens), tail]))
    try:
        chunks = await collect(provider)
    finally:
        await provider.aclose()
    assert "".join(c.text for c in chunks) == "".join(TEXTS)
    assert chunks[-1].finish_reason not in ("", "truncated")
    usage = chunks[-1].usage
    assert usage is not None and (usage.input_tokens, usage.output_tokens) == rig.expected_usage(
        "".join(TEXTS)
    )


async def test_malformed_chunk(rig: Rig) -> None:
    parts = rig.kit.stream(TEXTS, rig.kit.tokens)
    rig.server.queue(Reply(body=[parts[0], b"data: {not json\n\n", *parts[1:]]))
    with pytest.raises(perr.MalformedChunkError):
        await collect(rig.provider)


async def test_error_event_inside_the_stream(rig: Rig) -> None:
    parts = rig.kit.stream(TEXTS, rig.kit.tokens)
    rig.server.queue(Reply(body=[*parts[:2], rig.kit.error_event("overloaded")]))
    with pytest.raises(perr.StreamErrorEventError) as caught:
        await collect(rig.provider)
    assert "overloaded" in caught.value.message


async def test_stall_hits_the_read_timeout(rig: Rig) -> None:
    provider = rig.kit.build(rig.server.url, replace(HTTP, read_timeout_s=0.2))
    rig.server.queue(Reply(body=[*rig.kit.stream(TEXTS, rig.kit.tokens)[:2], Stall()]))
    try:
        with pytest.raises(perr.ProviderTimeoutError):
            await collect(provider)
    finally:
        await provider.aclose()


async def test_caller_deadline_is_deadline_exceeded(rig: Rig) -> None:
    rig.server.queue(Reply(body=[Stall()]))
    request = replace(REQUEST, deadline_monotonic=time.monotonic() + 0.2)
    with pytest.raises(DeadlineExceededError):
        await collect(rig.provider, request)


def _stalls_after_text(rig: Rig) -> Reply:
    parts = rig.kit.stream(TEXTS, rig.kit.tokens)
    return Reply(body=[*parts[: rig.kit.first_text_part + 2], Stall()])


async def _text_then(provider: Provider, request: ProviderRequest) -> tuple[list[str], Exception]:
    got: list[str] = []
    try:
        async for chunk in provider.stream(request):
            if not progress(chunk):
                got.append(chunk.text)
    except Exception as exc:
        return got, exc
    raise AssertionError(f"the stream ended without an error after {got}")


async def test_caller_deadline_mid_body_is_deadline_exceeded(rig: Rig) -> None:
    # The deadline passes while the body is being read (text already arrived):
    # the read under way fails as the deadline, not as a cut stream.
    rig.server.queue(_stalls_after_text(rig))
    request = replace(REQUEST, deadline_monotonic=time.monotonic() + 0.3)
    got, exc = await _text_then(rig.provider, request)
    assert got == TEXTS[:2]
    assert isinstance(exc, DeadlineExceededError), repr(exc)


async def test_total_timeout_mid_body_is_a_provider_timeout(rig: Rig) -> None:
    provider = rig.kit.build(rig.server.url, replace(HTTP, total_timeout_s=0.3))
    rig.server.queue(_stalls_after_text(rig))
    try:
        got, exc = await _text_then(provider, REQUEST)
    finally:
        await provider.aclose()
    assert got == TEXTS[:2]
    assert isinstance(exc, perr.ProviderTimeoutError), repr(exc)
    assert "total timeout" in str(exc)


@pytest.mark.parametrize(
    "delta_usage",
    [
        {"input_tokens": None, "cache_creation_input_tokens": None, "output_tokens": 9},
        {"input_tokens": 0, "output_tokens": 9},  # a proxy that zeroes what it does not know
        {"output_tokens": 9},
    ],
    ids=["null", "zero", "absent"],
)
async def test_anthropic_message_delta_usage_never_undoes_message_start(
    fake_server: StartServer, delta_usage: dict[str, int | None]
) -> None:
    server = await fake_server()
    provider = ANTHROPIC.build(server.url, HTTP)
    parts = ANTHROPIC.stream(TEXTS, (12, 1))
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": delta_usage,
    }
    at = next(i for i, p in enumerate(parts) if p.startswith(b"event: message_delta"))
    parts[at] = f"event: message_delta\ndata: {json.dumps(delta)}\n\n".encode()
    server.queue(Reply(body=parts))
    try:
        chunks = await collect(provider)
    finally:
        await provider.aclose()
    usage = chunks[-1].usage
    assert usage is not None and (usage.input_tokens, usage.output_tokens) == (12, 9)


async def test_openai_compatible_chunks_with_null_error_and_empty_usage_are_fine(
    fake_server: StartServer,
) -> None:
    # Some OpenAI-compatible servers put "error": null and "usage": {} in every chunk.
    server = await fake_server()
    provider = OPENAI_COMPAT.build(server.url, HTTP)
    parts = []
    for part in OPENAI_COMPAT.stream(TEXTS, (12, 4)):
        if not part.startswith(b"data: {"):
            parts.append(part)  # [DONE]
            continue
        chunk = json.loads(part[len(b"data: ") :])
        chunk["error"] = None
        chunk.setdefault("usage", {})
        parts.append(f"data: {json.dumps(chunk)}\n\n".encode())
    server.queue(Reply(body=parts))
    try:
        chunks = await collect(provider)
    finally:
        await provider.aclose()
    assert "".join(c.text for c in chunks) == "".join(TEXTS)
    usage = chunks[-1].usage
    assert usage is not None and (usage.input_tokens, usage.output_tokens) == (12, 4)


async def test_an_emoji_split_across_chunks_arrives_whole(rig: Rig) -> None:
    # The two halves of a UTF-16 pair in two events ("\ud83d", then "\ude42"):
    # each alone cannot be encoded for gRPC or the audit log.
    texts = ["Hi \ud83d", "\ude42 there", " and \ude42 alone"]
    rig.server.queue(Reply(body=rig.kit.stream(texts, rig.kit.tokens)))
    chunks = await collect(rig.provider)
    text = "".join(c.text for c in chunks)
    assert text == "Hi \U0001f642 there and \ufffd alone"
    text.encode("utf-8")


async def test_anthropic_output_is_estimated_when_message_delta_has_no_usage(
    fake_server: StartServer,
) -> None:
    # message_start's output_tokens is a placeholder (1): taken as final when
    # message_delta carried none (some compatible proxies), a long answer cost 1.
    server = await fake_server()
    provider = ANTHROPIC.build(server.url, HTTP)
    texts = ["A fairly long answer ", "with quite a few words ", "in several pieces."]
    parts = ANTHROPIC.stream(texts, (50, 1))
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}
    at = next(i for i, p in enumerate(parts) if p.startswith(b"event: message_delta"))
    parts[at] = f"event: message_delta\ndata: {json.dumps(delta)}\n\n".encode()
    server.queue(Reply(body=parts))
    try:
        usage = (await collect(provider))[-1].usage
    finally:
        await provider.aclose()
    assert usage is not None and usage.input_tokens == 50
    assert usage.output_tokens > 5  # estimated from the text, not the placeholder 1


# Counts no real call can report: below 0, past any context window, past the API's int64.
UNBELIEVABLE = [-1, -100_000, MAX_REPORTED_TOKENS + 1, 10**20, 2**63]


@pytest.mark.parametrize("count", UNBELIEVABLE)
async def test_usage_counts_out_of_range_are_estimated_not_believed(rig: Rig, count: int) -> None:
    # An OpenAI-compatible upstream reported 1e20 tokens: the stream failed INTERNAL
    # (int64 proto field), its audit record broke every listing holding it, and the
    # user was charged 2e20 tokens; one reporting -100000 showed negative usage and was
    # charged nothing. Charged as a provider reporting no usage is: the estimate; the
    # answer stays whole (no failure, the text was good).
    rig.server.queue(
        Reply(body=rig.kit.stream(TEXTS, (count, count))),
        Reply(body=rig.kit.json("".join(TEXTS), (count, count))),
    )
    chunks = await collect(rig.provider)
    response = await rig.provider.complete(REQUEST)
    estimate = estimate_usage(REQUEST.messages, "".join(TEXTS))
    assert "".join(c.text for c in chunks) == response.text == "".join(TEXTS)
    assert chunks[-1].usage == response.usage == estimate
    # Nor is one passed on as the usage reported so far (what a cut is charged from).
    reported = [c.reported for c in chunks if c.reported is not None]
    assert all(believable(r.input_tokens, r.output_tokens) for r in reported), reported
