"""A usage count the provider leaves out (or sends as null) is estimated, never 0.

Anthropic-compatible and OpenAI-compatible proxies, and self-hosted servers,
sometimes send a usage object without one of its counts. Taken as 0, the call's
prompt (or its whole answer) was free: the client, the audit record, tokens/min
and ``llm_token_usage_total`` all said 0; an OpenAI-format one failed the call
("usage lacks token counts"), after its text had been released. The count a
provider did send still stands, and a streamed and a whole answer charge alike.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from novaos.domain import Usage
from novaos.tokens import estimate_tokens, estimate_usage
from tests.fixtures.fake_providers import Reply, StartServer
from tests.fixtures.provider_wire import (
    KITS,
    ProviderKit,
    anthropic_json,
    anthropic_stream,
    gemini_json,
    gemini_stream,
    openai_json,
    openai_stream,
)
from tests.integration.providers.test_adapters import HTTP, REQUEST, TEXTS, collect

TOKENS = (20, 6)  # what the fake reports, before a count is taken out
# Each wire format's name for the prompt's count and the answer's.
KEYS = {
    "openai": ("prompt_tokens", "completion_tokens"),
    "openai_compat": ("prompt_tokens", "completion_tokens"),
    "anthropic": ("input_tokens", "output_tokens"),
    "gemini": ("promptTokenCount", "candidatesTokenCount"),
}


def _edit(obj: Any, key: str, how: str) -> None:
    """Take ``key`` out of every object in ``obj`` (``how``: absent), or null it."""
    if isinstance(obj, dict):
        if key in obj:
            if how == "absent":
                del obj[key]
            else:
                obj[key] = None
        for value in obj.values():
            _edit(value, key, how)
    elif isinstance(obj, list):
        for value in obj:
            _edit(value, key, how)


def _event(part: bytes, key: str, how: str) -> bytes:
    text = part.decode()
    head, sep, rest = text.partition("data: ")
    if not sep or rest.startswith("[DONE]"):
        return part
    payload = rest.rstrip("\r\n")
    data = json.loads(payload)
    _edit(data, key, how)
    return (head + sep + json.dumps(data) + rest[len(payload) :]).encode()


def _json(body: bytes, key: str, how: str) -> bytes:
    data = json.loads(body)
    _edit(data, key, how)
    return json.dumps(data).encode()


async def _both(
    fake_server: StartServer, kit: ProviderKit, stream: list[bytes], whole: bytes
) -> tuple[Usage, Usage]:
    """The usage a stream and a whole answer are charged."""
    server = await fake_server()
    provider = kit.build(server.url, HTTP)
    server.queue(Reply(body=stream), Reply(body=whole))
    try:
        chunks = await collect(provider)
        response = await provider.complete(REQUEST)
    finally:
        await provider.aclose()
    assert "".join(c.text for c in chunks) == response.text == "".join(TEXTS)
    assert chunks[-1].usage is not None
    return chunks[-1].usage, response.usage


@pytest.mark.parametrize("how", ["absent", "null"])
@pytest.mark.parametrize("gap", ["input", "output"])
@pytest.mark.parametrize("kit", KITS, ids=[k.name for k in KITS])
async def test_a_count_left_out_is_estimated_and_the_other_stands(
    fake_server: StartServer, kit: ProviderKit, gap: str, how: str
) -> None:
    key = KEYS[kit.name][0 if gap == "input" else 1]
    stream = [_event(part, key, how) for part in kit.stream(TEXTS, TOKENS)]
    whole = _json(kit.json("".join(TEXTS), TOKENS), key, how)
    streamed, unary = await _both(fake_server, kit, stream, whole)
    estimate = estimate_usage(REQUEST.messages, "".join(TEXTS))
    if gap == "input":
        expected = Usage(estimate.input_tokens, TOKENS[1])
    else:
        expected = Usage(TOKENS[0], estimate.output_tokens)
    assert streamed == unary == expected


@pytest.mark.parametrize("how", ["absent", "null"])
async def test_geminis_thinking_count_stands_when_the_answers_count_is_left_out(
    fake_server: StartServer, how: str
) -> None:
    # The answer's tokens are estimated; the 40 thinking tokens it reported are
    # still billed (its thought text, a summary, says far fewer).
    thought = "Greet them."
    gemini = next(k for k in KITS if k.name == "gemini")
    stream = [
        _event(part, "candidatesTokenCount", how)
        for part in gemini_stream(TEXTS, TOKENS, thoughts=(thought,), thought_tokens=40)
    ]
    whole = gemini_json("".join(TEXTS), TOKENS, thought=thought, thought_tokens=40)
    streamed, unary = await _both(
        fake_server, gemini, stream, _json(whole, "candidatesTokenCount", how)
    )
    assert streamed == unary == Usage(TOKENS[0], estimate_tokens("".join(TEXTS)) + 40)


# Reasoning worth 440 tokens, far more than the 7-token answer: left out of an
# estimate, the thinking was free. The last piece ("x") is a Gemini thought part
# sharing the first answer event (as the API mixes them).
THINK = "Let me reason about this carefully. " * 40
REASONING = {
    "anthropic": (
        lambda: anthropic_stream(TEXTS, TOKENS, thinking=THINK + "x"),
        lambda: anthropic_json("".join(TEXTS), TOKENS, thinking=THINK + "x"),
    ),
    "gemini": (
        lambda: gemini_stream(TEXTS, TOKENS, thoughts=(THINK, "x")),
        lambda: gemini_json("".join(TEXTS), TOKENS, thought=THINK + "x"),
    ),
    "openai_compat": (
        lambda: openai_stream(TEXTS, TOKENS, reasoning=THINK + "x"),
        lambda: openai_json("".join(TEXTS), TOKENS, reasoning=THINK + "x"),
    ),
}


@pytest.mark.parametrize("gap", ["output", "all"])
@pytest.mark.parametrize("name", list(REASONING))
async def test_reasoning_counts_in_the_estimate_streamed_or_not(
    fake_server: StartServer, name: str, gap: str
) -> None:
    # A whole answer's estimate left its thinking blocks / thought parts /
    # reasoning_content out (a stream's counted them); a Gemini stream left out
    # a thought part that shared an event with answer text.
    kit = next(k for k in KITS if k.name == name)
    stream, whole = REASONING[name]
    key = KEYS[name][1] if gap == "output" else "usageMetadata" if name == "gemini" else "usage"
    streamed, unary = await _both(
        fake_server,
        kit,
        [_event(part, key, "absent") for part in stream()],
        _json(whole(), key, "absent"),
    )
    estimate = estimate_usage(REQUEST.messages, "".join(TEXTS), THINK + "x")
    expected = Usage(TOKENS[0], estimate.output_tokens) if gap == "output" else estimate
    assert streamed == unary == expected
