"""Router over real adapters and fake servers: fallback, truncation, breakers, back-off."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from novaos.errors import (
    CircuitOpenError,
    InvalidArgumentError,
    NotFoundError,
    ProviderUnavailableError,
    UpstreamTruncatedError,
)
from novaos.ports import ChatMessage, ProviderChunk, ProviderRequest
from novaos.providers.http import HttpSettings
from novaos.providers.router import ProviderRouter, RouterSettings
from novaos.tokens import estimate_usage
from tests.fixtures.common import free_port
from tests.fixtures.fake_providers import (
    Cut,
    FakeProviderServer,
    Pause,
    Reply,
    Stall,
    paced,
)
from tests.fixtures.provider_wire import (
    KITS,
    anthropic_json,
    anthropic_stream,
    openai_error,
    openai_error_event,
    openai_stream,
)

HTTP = HttpSettings(connect_timeout_s=2.0, read_timeout_s=5.0, total_timeout_s=10.0)
REQUEST = ProviderRequest(messages=(ChatMessage("user", "hello"),), max_tokens=32)
TEXTS = ["One. ", "Two. ", "Three."]
OK_PRIMARY = Reply(body=openai_stream(TEXTS, (4, 3)))
OK_SECONDARY = Reply(body=anthropic_stream(["Backup ", "answer."], (5, 2)))


class StepClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordingObserver:
    states: list[tuple[str, int]] = field(default_factory=list)
    tokens_seen: list[tuple[str, str, str, int]] = field(default_factory=list)
    first_tokens: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def circuit_state(self, provider: str, state: int) -> None:
        self.states.append((provider, state))

    def failed(self, provider: str, kind: str) -> None:
        self.failures.append((provider, kind))

    def tokens(self, provider: str, model: str, kind: str, n: int) -> None:
        self.tokens_seen.append((provider, model, kind, n))

    def first_token(self, provider: str, seconds: float) -> None:
        self.first_tokens.append(provider)

    def inter_token(self, provider: str, seconds: float) -> None:
        assert seconds >= 0


@dataclass
class Pair:
    primary: FakeProviderServer  # speaks OpenAI
    secondary: FakeProviderServer  # speaks Anthropic
    router: ProviderRouter
    clock: StepClock
    observer: RecordingObserver


def build_router(
    primary_url: str, secondary_url: str, clock: StepClock, observer: RecordingObserver
) -> ProviderRouter:
    kits = {k.name: k for k in KITS}
    providers = {
        "openai": kits["openai"].build(primary_url, HTTP),
        "anthropic": kits["anthropic"].build(secondary_url, HTTP),
    }
    settings = RouterSettings(
        preferred="openai",
        fallback_order=("anthropic",),
        failure_threshold=3,
        reset_timeout_s=30.0,
        idle_timeout_s=0.3,
    )
    return ProviderRouter(providers, settings, observer=observer, clock=clock)


async def collect(
    router: ProviderRouter, request: ProviderRequest = REQUEST
) -> list[ProviderChunk]:
    return [chunk async for chunk in router.stream(request)]


def text(chunks: list[ProviderChunk]) -> str:
    return "".join(c.text for c in chunks)


async def test_preferred_provider_answers_and_chunks_name_it(pair: Pair) -> None:
    pair.primary.queue(OK_PRIMARY)
    chunks = await collect(pair.router)
    assert text(chunks) == "".join(TEXTS)
    assert {(c.provider, c.model) for c in chunks} == {("openai", "gpt-4o-mini")}
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens == 3
    assert ("openai", "gpt-4o-mini", "output", 3) in pair.observer.tokens_seen
    assert pair.secondary.requests == []


async def test_falls_back_before_the_first_chunk_on_500(pair: Pair) -> None:
    pair.primary.queue(Reply(500, openai_error(500, "boom")))
    pair.secondary.queue(OK_SECONDARY)
    chunks = await collect(pair.router)
    assert text(chunks) == "Backup answer."
    # Each provider is named before it is called; only the fallback answered.
    assert [c.provider for c in chunks if not c.text and not c.usage][:2] == ["openai", "anthropic"]
    assert {c.provider for c in chunks if c.text or c.usage} == {"anthropic"}
    assert (len(pair.primary.requests), len(pair.secondary.requests)) == (1, 1)
    # an explicit model belongs to the first choice only; the fallback uses its default
    assert pair.secondary.requests[0].json()["model"] == "claude-fake"


async def test_falls_back_on_connect_refused(pair: Pair) -> None:
    refused = f"http://127.0.0.1:{free_port()}"
    router = build_router(refused, pair.secondary.url, pair.clock, pair.observer)
    pair.secondary.queue(OK_SECONDARY)
    try:
        assert text(await collect(router)) == "Backup answer."
    finally:
        await router.aclose()


async def test_falls_back_when_the_first_chunk_never_comes(pair: Pair) -> None:
    pair.primary.queue(Reply(body=[Stall()]))
    pair.secondary.queue(OK_SECONDARY)
    assert text(await collect(pair.router)) == "Backup answer."


async def test_falls_back_on_malformed_stream_before_any_text(pair: Pair) -> None:
    pair.primary.queue(Reply(body=[b"data: {broken\n\n"]))
    pair.secondary.queue(OK_SECONDARY)
    assert text(await collect(pair.router)) == "Backup answer."


async def test_429_retry_after_skips_the_provider_until_it_passes(pair: Pair) -> None:
    pair.primary.queue(Reply(429, openai_error(429, "slow"), headers={"retry-after": "20"}))
    pair.secondary.queue(OK_SECONDARY, OK_SECONDARY)
    await collect(pair.router)
    await collect(pair.router)
    assert len(pair.primary.requests) == 1, "the primary must not be called during Retry-After"
    assert pair.router.circuits()[0].consecutive_failures == 0, "429 is not a breaker failure"
    pair.clock.now += 20
    pair.primary.queue(OK_PRIMARY)
    assert text(await collect(pair.router)) == "".join(TEXTS)
    assert len(pair.primary.requests) == 2


async def test_all_rate_limited_is_unavailable_with_retry_after(pair: Pair) -> None:
    pair.primary.queue(Reply(429, openai_error(429, "slow"), headers={"retry-after": "20"}))
    pair.secondary.queue(Reply(429, b'{"type":"error"}', headers={"retry-after": "5"}))
    with pytest.raises(ProviderUnavailableError) as caught:
        await collect(pair.router)
    assert caught.value.retry_after_s == 5.0


@pytest.mark.parametrize(
    "tail",
    [[Cut()], [Stall()], [b"data: {oops\n\n"], [openai_error_event("overloaded")]],
    ids=["cut", "stall", "malformed", "error-event"],
)
async def test_break_after_first_chunk_is_truncation_without_fallback(
    pair: Pair, tail: list[bytes | Cut | Stall]
) -> None:
    pair.primary.queue(Reply(body=[*openai_stream(TEXTS, (4, 3))[:3], *tail]))
    pair.secondary.queue(OK_SECONDARY)
    got: list[ProviderChunk] = []
    with pytest.raises(UpstreamTruncatedError) as caught:
        async for chunk in pair.router.stream(REQUEST):
            got.append(chunk)
    assert text(got) == "One. Two. "
    assert got[-1].usage is not None and got[-1].finish_reason == "truncated"
    assert got[-1].usage.output_tokens == 4, "estimated over the text that went out"
    # what reached the router's consumer; what reached the client is the consumer's to say
    assert caught.value.metadata["receivedChars"] == str(len("One. Two. "))
    assert "releasedChars" not in caught.value.metadata
    assert caught.value.metadata["provider"] == "openai"
    assert pair.secondary.requests == [], "no fallback request after the first chunk"
    assert pair.router.circuits()[0].consecutive_failures == 1
    kind = caught.value.metadata["cause"]
    assert kind in {"stream_cut", "stalled", "malformed", "error_event"}
    assert pair.observer.failures == [("openai", kind)], "each failed call reported once"


async def truncated_usage(router: ProviderRouter, request: ProviderRequest) -> list[int]:
    got: list[ProviderChunk] = []
    with pytest.raises(UpstreamTruncatedError) as caught:
        async for chunk in router.stream(request):
            got.append(chunk)
    usage = got[-1].usage
    assert usage is not None and got[-1].finish_reason == "truncated"
    meta = caught.value.metadata
    assert [meta["inputTokens"], meta["outputTokens"]] == [
        str(usage.input_tokens),
        str(usage.output_tokens),
    ], "the error tells the client what the call was charged"
    return [usage.input_tokens, usage.output_tokens]


async def test_a_break_after_openai_reported_usage_charges_the_reported_usage(
    pair: Pair,
) -> None:
    # Every chunk and the usage chunk arrived; only [DONE] was lost.
    pair.primary.queue(Reply(body=[*openai_stream(TEXTS, (40, 30))[:-1], Cut()]))
    assert await truncated_usage(pair.router, REQUEST) == [40, 30]


async def test_a_break_after_anthropic_message_start_charges_its_prompt_count(
    pair: Pair,
) -> None:
    # message_start reported 25 prompt tokens; the break came before message_delta.
    pair.secondary.queue(Reply(body=[*anthropic_stream(TEXTS, (25, 9))[:6], Cut()]))
    request = replace(REQUEST, preferred_provider="anthropic")
    estimate = estimate_usage(REQUEST.messages, "One. Two. Three.")
    assert estimate.input_tokens != 25
    assert await truncated_usage(pair.router, request) == [25, estimate.output_tokens]


async def test_a_reported_output_below_the_text_sent_is_not_what_is_charged(
    pair: Pair,
) -> None:
    # A provider whose running count lags the text it sent (1 output token).
    pair.primary.queue(Reply(body=[*openai_stream(TEXTS, (40, 1))[:-1], Cut()]))
    estimate = estimate_usage(REQUEST.messages, "One. Two. Three.")
    assert estimate.output_tokens > 1
    assert await truncated_usage(pair.router, REQUEST) == [40, estimate.output_tokens]


async def test_circuit_opens_after_three_failures_and_is_skipped(pair: Pair) -> None:
    for _ in range(3):
        pair.primary.queue(Reply(500, openai_error(500, "down")))
        pair.secondary.queue(OK_SECONDARY)
        await collect(pair.router)
    circuit = pair.router.circuits()[0]
    assert (circuit.provider, circuit.state, circuit.consecutive_failures) == ("openai", 1, 3)
    assert circuit.retry_at_unix > 0
    pair.secondary.queue(OK_SECONDARY)
    await collect(pair.router)
    assert len(pair.primary.requests) == 3, "an open circuit sends nothing"
    assert ("openai", 1) in pair.observer.states
    # every failed call reported, those the fallback answered too; a skip is no failure
    assert pair.observer.failures == [("openai", "server_error")] * 3


async def open_primary(pair: Pair) -> None:
    for _ in range(3):
        pair.primary.queue(Reply(500, openai_error(500, "down")))
        pair.secondary.queue(OK_SECONDARY)
        await collect(pair.router)


async def test_half_open_probe_success_closes(pair: Pair) -> None:
    await open_primary(pair)
    pair.clock.now += 30
    assert pair.router.circuits()[0].state == 2
    pair.primary.queue(OK_PRIMARY)
    assert text(await collect(pair.router)) == "".join(TEXTS)
    assert pair.router.circuits()[0].state == 0
    assert [s for p, s in pair.observer.states if p == "openai"] == [0, 1, 2, 0]


async def test_half_open_probe_failure_reopens(pair: Pair) -> None:
    await open_primary(pair)
    pair.clock.now += 30
    pair.primary.queue(Reply(503, openai_error(503, "still down")))
    pair.secondary.queue(OK_SECONDARY)
    await collect(pair.router)
    assert pair.router.circuits()[0].state == 1
    assert len(pair.primary.requests) == 4


async def test_all_circuits_open_is_circuit_open(pair: Pair) -> None:
    for _ in range(3):
        pair.primary.queue(Reply(500, openai_error(500, "down")))
        pair.secondary.queue(Reply(529, b'{"type":"error","error":{"type":"overloaded_error"}}'))
        with pytest.raises(ProviderUnavailableError):
            await collect(pair.router)
    with pytest.raises(CircuitOpenError) as caught:
        await collect(pair.router)
    assert caught.value.message == "Circuit open"
    assert 0 < caught.value.retry_after_s <= 30
    with pytest.raises(CircuitOpenError):
        await pair.router.complete(REQUEST)
    assert (len(pair.primary.requests), len(pair.secondary.requests)) == (3, 3)


DOWN_PRIMARY = Reply(500, openai_error(500, "down"))
DOWN_SECONDARY = Reply(529, b'{"type":"error","error":{"type":"overloaded_error"}}')


async def unavailable_after(pair: Pair) -> float:
    with pytest.raises(ProviderUnavailableError) as caught:
        await collect(pair.router)
    return caught.value.retry_after_s


async def test_the_call_that_opens_every_circuit_says_when_the_first_probes(pair: Pair) -> None:
    # It said 0 s, so a client retried at once and met "Circuit open" (~30 s).
    waits = []
    for _ in range(3):
        pair.primary.queue(DOWN_PRIMARY)
        pair.secondary.queue(DOWN_SECONDARY)
        waits.append(await unavailable_after(pair))
    assert waits == [0.0, 0.0, 30.0], "both could be called again until the third failure"
    pair.clock.now += 30  # half-open: both probes fail and re-open their breakers
    pair.primary.queue(DOWN_PRIMARY)
    pair.secondary.queue(DOWN_SECONDARY)
    assert await unavailable_after(pair) == 30.0
    assert [c.state for c in pair.router.circuits()] == [1, 1]


async def test_a_provider_that_failed_but_stays_closed_keeps_the_delay_at_zero(
    pair: Pair,
) -> None:
    for _ in range(2):
        pair.primary.queue(DOWN_PRIMARY)
        pair.secondary.queue(OK_SECONDARY)
        await collect(pair.router)
    pair.primary.queue(DOWN_PRIMARY)  # openai's third failure opens its breaker
    pair.secondary.queue(DOWN_SECONDARY)  # anthropic's first does not
    assert await unavailable_after(pair) == 0.0, "anthropic may be called again at once"
    assert [c.state for c in pair.router.circuits()] == [1, 0]


async def test_request_errors_do_not_open_the_circuit(pair: Pair) -> None:
    for _ in range(4):
        pair.primary.queue(Reply(400, openai_error(400, "context too long")))
        pair.secondary.queue(OK_SECONDARY)
        await collect(pair.router)
    assert pair.router.circuits()[0].state == 0


async def test_admin_reset_closes_and_unknown_is_not_found(pair: Pair) -> None:
    await open_primary(pair)
    info = pair.router.reset("openai")
    assert (info.state, info.consecutive_failures) == (0, 0)
    with pytest.raises(NotFoundError):
        pair.router.reset("nope")


async def test_request_preference_and_unknown_provider(pair: Pair) -> None:
    pair.secondary.queue(OK_SECONDARY)
    chunks = await collect(pair.router, replace(REQUEST, preferred_provider="anthropic"))
    assert {c.provider for c in chunks} == {"anthropic"}
    assert pair.primary.requests == []
    with pytest.raises(InvalidArgumentError):
        await collect(pair.router, replace(REQUEST, preferred_provider="nope"))


async def test_complete_falls_back_and_reports_usage(pair: Pair) -> None:
    pair.primary.queue(Reply(502, openai_error(502, "bad gateway")))
    pair.secondary.queue(Reply(body=anthropic_json("Backup answer.", (5, 2))))
    response = await pair.router.complete(REQUEST)
    assert (response.provider, response.text) == ("anthropic", "Backup answer.")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (5, 2)
    assert ("anthropic", "claude-fake", "input", 5) in pair.observer.tokens_seen


def _reasoning_then(texts: list[str]) -> list[bytes]:
    """An OpenAI-compatible reasoning model (vLLM, DeepSeek): reasoning_content
    deltas first, no answer text, then the answer."""
    thinking = [
        b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"hmm "}}]}\n\n'
        for _ in range(5)
    ]
    return [*thinking, *openai_stream(texts, (4, 3))]


async def test_a_model_that_reasons_longer_than_the_idle_timeout_is_not_stalled(
    pair: Pair,
) -> None:
    # Only answer text reset the idle timer: 0.75 s of reasoning deltas (idle
    # timeout 0.3 s) counted as a stall, fell back and a breaker failure.
    pair.primary.queue(Reply(body=paced(_reasoning_then(TEXTS), 0.15)))
    pair.secondary.queue(OK_SECONDARY)
    chunks = await collect(pair.router)
    assert text(chunks) == "".join(TEXTS)
    assert pair.secondary.requests == []
    # No heartbeat passed on: the provider named before the call, then the
    # reasoning (billed, never answer text), then the answer.
    assert chunks[0].provider == "openai" and not chunks[0].text
    thoughts = [c for c in chunks[1:] if c.reasoning]
    assert thoughts and not any(c.text for c in thoughts)
    assert all(
        c.text or c.usage is not None or c.finish_reason or c.reasoning or c.reported
        for c in chunks[1:]
    )


async def test_anthropic_pings_keep_a_slow_stream_alive(pair: Pair) -> None:
    parts = anthropic_stream(["Backup ", "answer."], (5, 2))
    ping = b'event: ping\ndata: {"type": "ping"}\n\n'
    pair.primary.queue(Reply(500, openai_error(500, "boom")))  # on to anthropic
    pair.secondary.queue(Reply(body=paced([parts[0], ping, ping, ping, ping, *parts[1:]], 0.15)))
    assert text(await collect(pair.router)) == "Backup answer."


@pytest.mark.parametrize("comment", [b": keep-alive\n\n", b": OPENROUTER PROCESSING\n\n"])
async def test_sse_comments_keep_a_queued_stream_alive(pair: Pair, comment: bytes) -> None:
    # A queued model (OpenRouter, a proxy) sends comment lines until it starts:
    # 0.75 s of them (idle timeout 0.3 s) counted as a stall, where pings did not.
    parts = openai_stream(TEXTS, (4, 3))
    pair.primary.queue(Reply(body=[*paced([comment] * 5, 0.15), Pause(0.15), *parts]))
    pair.secondary.queue(OK_SECONDARY)
    chunks = await collect(pair.router)
    assert text(chunks) == "".join(TEXTS), "a comment is never answer text"
    assert pair.secondary.requests == []
    assert pair.router.circuits()[0].consecutive_failures == 0


async def test_sse_comments_alone_do_not_outlast_the_total_timeout(pair: Pair) -> None:
    # Comments restart the idle timer, not the call's deadline.
    short = replace(HTTP, total_timeout_s=0.6)
    kits = {k.name: k for k in KITS}
    provider = kits["openai"].build(pair.primary.url, short)
    router = ProviderRouter(
        {"openai": provider}, RouterSettings(preferred="openai", idle_timeout_s=0.3)
    )
    pair.primary.queue(Reply(body=paced([b": keep-alive\n\n"] * 12, 0.1)))
    try:
        with pytest.raises(ProviderUnavailableError, match="openai: timeout"):
            await collect(router)
    finally:
        await router.aclose()
